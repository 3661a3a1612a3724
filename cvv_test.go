package cvv_test

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

func TestDestError(t *testing.T) {
	pe := &os.PathError{Op: "write", Path: "/d/f", Err: syscall.ENOSPC}
	err := cvv.DestError(pe)
	if !errors.Is(err, cvv.ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("DestError(ENOSPC) = %v: want ErrDiskFull and ENOSPC", err)
	}
	if again := cvv.DestError(err); again != err {
		t.Errorf("DestError wrapped twice: %v", again)
	}
	eio := &os.PathError{Op: "write", Path: "/d/f", Err: syscall.EIO}
	if err := cvv.DestError(eio); errors.Is(err, cvv.ErrDiskFull) || !errors.Is(err, syscall.EIO) {
		t.Errorf("DestError(EIO) = %v", err)
	}
	if cvv.DestError(nil) != nil {
		t.Errorf("DestError(nil) != nil")
	}
}

func TestJobValidate(t *testing.T) {
	for _, tc := range []struct {
		job cvv.Job
		ok  bool
	}{
		{cvv.Job{Source: "s", Dests: []string{"a", "b"}}, true},
		{cvv.Job{Source: "", Dests: []string{"a"}}, false},
		{cvv.Job{Source: "s"}, false},
		{cvv.Job{Source: "s", Dests: []string{"a", "a"}}, false},
		{cvv.Job{Source: "s", Dests: []string{"s"}}, false},
		{cvv.Job{Source: "s", Dests: []string{""}}, false},
		{cvv.Job{Source: "s", Dests: []string{"a", "b"}, Write: []cvv.WritePath{cvv.WriteBuffered, cvv.WriteDirect}}, true},
		{cvv.Job{Source: "s", Dests: []string{"a", "b"}, Write: []cvv.WritePath{cvv.WriteBuffered}}, false},
	} {
		err := tc.job.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v", tc.job, err)
		}
		if err != nil && !errors.Is(err, cvv.ErrInvalidJob) {
			t.Errorf("Validate error %v does not wrap ErrInvalidJob", err)
		}
	}
}

func TestWritePath(t *testing.T) {
	j := cvv.Job{Dests: []string{"a", "b"}, Write: []cvv.WritePath{cvv.WriteDirect, cvv.WriteBuffered}}
	if j.WritePath(1) != cvv.WriteBuffered || (&cvv.Job{}).WritePath(0) != cvv.WriteAuto {
		t.Errorf("Job.WritePath: %v, %v", j.WritePath(1), (&cvv.Job{}).WritePath(0))
	}
}

func TestSyncMode(t *testing.T) {
	for _, tc := range []struct {
		job  cvv.Job
		want atomicfile.Sync
	}{
		{cvv.Job{}, atomicfile.SyncFull},
		{cvv.Job{DeferDirSync: true}, atomicfile.SyncData},
		{cvv.Job{NoFsync: true}, atomicfile.SyncNone},
		{cvv.Job{NoFsync: true, DeferDirSync: true}, atomicfile.SyncNone},
	} {
		if got := tc.job.SyncMode(); got != tc.want {
			t.Errorf("%+v.SyncMode() = %v, want %v", tc.job, got, tc.want)
		}
	}
}
