package command

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest"
)

// hashFileOptions are the --hash-file settings.
type hashFileOptions struct {
	// formats are the manifest formats to write; none when empty.
	formats []manifest.Format
	// source and dest say where to write them.
	source, dest bool
}

func parseHashFileOptions(c *cli.Context, alg hashing.Algorithm) (hashFileOptions, error) {
	var o hashFileOptions
	switch strings.ToLower(c.String("hash-file-dest")) {
	case "dest":
		o.dest = true
	case "source":
		o.source = true
	case "both":
		o.source, o.dest = true, true
	default:
		return o, usagef("bad --hash-file-dest %q (want source, dest or both)", c.String("hash-file-dest"))
	}
	s := c.String("hash-file")
	if s == "" {
		return o, nil
	}
	fs, err := manifest.ParseFormats(s)
	if err != nil {
		return o, usagef("%s", strings.TrimPrefix(err.Error(), cvv.ErrUsage.Error()+": "))
	}
	if err := manifest.CheckAlgorithm(fs, alg); err != nil {
		return o, usagef("%s", strings.TrimPrefix(err.Error(), cvv.ErrUsage.Error()+": "))
	}
	o.formats = fs
	return o, nil
}

// hashFileEvent is the JSON event for a written manifest.
type hashFileEvent struct {
	Event string `json:"event"`
	Time  string `json:"time"`
	Path  string `json:"path"`
}

// writeHashFiles writes the manifests of the run: one Record per
// destination root and/or for the source root. Files whose copy failed on a
// destination are left out of that destination's record; a file whose
// verification failed is listed with the action "failed". Every other
// action is manifest.Write's to choose against the existing history.
func (r *runner) writeHashFiles() error {
	hf := r.opts.hashFiles
	if len(hf.formats) == 0 {
		return nil
	}
	var dirs []string
	for _, d := range r.tree.Dirs {
		if d.Rel != "" {
			dirs = append(dirs, filepath.ToSlash(d.Rel))
		}
	}
	var recs []manifest.Record
	if hf.dest {
		for i, d := range r.plan.Dests {
			if !r.live(i) {
				continue
			}
			rec := manifest.Record{Root: d.Root(r.plan.IsDir), Alg: r.opts.alg, Dirs: dirs, Start: r.start, Process: "transfer", Ignore: r.opts.excludes.Patterns()}
			for _, fj := range r.files {
				if fj.hash == "" || fj.err(i) != nil && !isVerifyFailure(fj.err(i)) {
					continue
				}
				if fj.state[i] == dsSkipped {
					continue
				}
				// Action is left to manifest.Write, which records
				// "original" for a file its history has never seen and
				// "verified" or "failed" against the recorded hash
				// otherwise; only a failed verification is said here.
				f := manifest.File{Path: r.relIn(rec.Root, r.target(fj, i), fj.e.Rel), Size: fj.size, ModTime: unixTime(fj.modTime), Hash: fj.hash, HashDate: unixTime(fj.hashDate)}
				if fi, err := os.Stat(r.target(fj, i)); err == nil {
					f.ModTime = fi.ModTime()
				}
				if fj.state[i] == dsFailed {
					f.Action = "failed"
				}
				rec.Files = append(rec.Files, f)
			}
			recs = append(recs, rec)
		}
	}
	if hf.source {
		root := r.plan.Source
		if !r.plan.IsDir {
			root = filepath.Dir(root)
		}
		rec := manifest.Record{Root: root, Alg: r.opts.alg, Dirs: dirs, Start: r.start, Process: "transfer", Ignore: r.opts.excludes.Patterns()}
		for _, fj := range r.files {
			if fj.hash == "" || fj.srcState == srcError {
				continue
			}
			f := manifest.File{Path: r.relIn(root, r.source(fj), fj.e.Rel), Size: fj.size, ModTime: unixTime(fj.modTime), Hash: fj.hash, HashDate: unixTime(fj.hashDate)}
			if fj.srcState == srcChanged {
				f.Action = "failed"
			}
			rec.Files = append(rec.Files, f)
		}
		recs = append(recs, rec)
	}
	var errs []error
	for _, rec := range recs {
		written, err := manifest.Write(rec, hf.formats)
		for _, p := range written {
			if r.out.json {
				r.out.emit(hashFileEvent{Event: "hashfile", Time: now(), Path: p})
			} else if !r.out.quiet {
				r.out.printOut("cvv: wrote " + displayName(p))
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("writing hash files in %s: %w", rec.Root, err))
		}
	}
	return errors.Join(errs...)
}

// relIn returns path relative to root with '/' separators; rel is the
// fallback (the entry's path in the tree).
func (r *runner) relIn(root, path, rel string) string {
	if p, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(p, "..") {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// isVerifyFailure reports whether err is a verification failure (the file
// exists at the destination but does not match), as opposed to a copy that
// did not happen.
func isVerifyFailure(err error) bool {
	return errors.Is(err, cvv.ErrVerifyMismatch) || errors.Is(err, cvv.ErrSourceChanged)
}

// hashFilesWanted reports whether the run records hashes in manifests, which
// needs the hash of every file, skipped ones too.
func (o copyOptions) hashFilesWanted() bool { return len(o.hashFiles.formats) > 0 }
