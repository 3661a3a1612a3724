package copier

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cvv-project/cvv/cmd/internal/plan"
	"github.com/cvv-project/cvv/cmd/internal/usage"
	"github.com/cvv-project/cvv/hashing/manifest"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// MergeRoot merges (cvv manifest merge) the records of every sharded job in root whose shards
// are all done. A job with a shard still running, or one whose parts are
// not all there, is an error.
func MergeRoot(root string, noFsync bool, syncDir func(*atomicfile.Dir) error, out HashRecordOutput) error {
	states, err := filepath.Glob(filepath.Join(root, shardDirPrefix+"*"))
	if err != nil {
		return err
	}
	if len(states) == 0 {
		return usage.Errorf("%s holds no partial records of a sharded copy (%s*)", root, shardDirPrefix)
	}
	var errs []error
	for _, dir := range states {
		l, err := tryFlock(dir, false)
		if errors.Is(err, errLocked) {
			errs = append(errs, usage.Errorf("%s: a shard of this job still runs%s", dir, lockHolder(dir)))
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, mergeState(dir, root, noFsync, syncDir, out))
		l.Unlock()
	}
	return errors.Join(errs...)
}

// mergeState merges the parts in the state directory dir of root, which
// must all be there.
func mergeState(dir, root string, noFsync bool, syncDir func(*atomicfile.Dir) error, out HashRecordOutput) error {
	parts, err := manifest.ReadPartials(dir)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return usage.Errorf("%s holds no partial record", dir)
	}
	if missing := manifest.Missing(parts, parts[0].Count); len(missing) > 0 {
		return usage.Errorf("%s: %d of %d shards are done; run %s again (what is copied is skipped) and it merges the records", dir, parts[0].Count-len(missing), parts[0].Count, shardList(missing))
	}
	merged, err := MergeShards(dir, root, plan.Shard{}, noFsync, syncDir, out, nil)
	if err == nil && !merged {
		err = fmt.Errorf("%s: nothing merged", dir)
	}
	return err
}
