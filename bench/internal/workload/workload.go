// Package workload generates the benchmark sources: incompressible bytes
// from a seeded ChaCha8 stream, so that a run on another machine copies the
// very same files. A "big" workload is one file; a "tree" workload is many
// files of spread sizes in nested directories; a "seq" workload is an image
// sequence, many frames of one size in one directory (the way cameras and
// VFX pipelines write them).
//
// It writes only below the directory it is given and never touches a
// destination of a benchmark.
package workload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
)

// Spec says what to generate.
type Spec struct {
	// Kind is "big", "tree" or "seq".
	Kind string `json:"kind"`
	// Seed seeds every random choice and every byte.
	Seed uint64 `json:"seed"`
	// Size is the size of the big file, or of each frame of a seq.
	Size int64 `json:"size,omitempty"`
	// Files is the number of ordinary tree files, or of frames of a seq.
	Files int `json:"files,omitempty"`
	// MinFile and MaxFile bound the ordinary tree file sizes; sizes are
	// spread log-uniformly between them.
	MinFile int64 `json:"min_file,omitempty"`
	MaxFile int64 `json:"max_file,omitempty"`
	// Large is the number of larger tree files, LargeMax their maximum
	// size (the minimum is 8 x MaxFile capped at LargeMax).
	Large    int   `json:"large,omitempty"`
	LargeMax int64 `json:"large_max,omitempty"`
}

// File is one planned file.
type File struct {
	// Path is relative to the workload root, slash separated.
	Path string
	Size int64
}

// Stats summarizes a generated workload.
type Stats struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Files int    `json:"files"`
	Dirs  int    `json:"dirs"`
	Seed  uint64 `json:"seed"`
}

// Validate reports whether s can be generated.
func (s Spec) Validate() error {
	switch s.Kind {
	case "big":
		if s.Size < 0 {
			return fmt.Errorf("big: negative size %d", s.Size)
		}
	case "tree":
		if s.Files < 1 {
			return fmt.Errorf("tree: need at least one file, have %d", s.Files)
		}
		if s.MinFile < 0 || s.MaxFile < s.MinFile {
			return fmt.Errorf("tree: file size range %d..%d", s.MinFile, s.MaxFile)
		}
		if s.Large < 0 || (s.Large > 0 && s.LargeMax < s.MaxFile) {
			return fmt.Errorf("tree: %d large files up to %d, below the ordinary maximum %d", s.Large, s.LargeMax, s.MaxFile)
		}
	case "scale":
		if s.Files < 1 {
			return fmt.Errorf("scale: need at least one file, have %d", s.Files)
		}
		if s.MinFile < 0 || s.MaxFile < s.MinFile || s.MaxFile > 64<<20 {
			return fmt.Errorf("scale: file size range %d..%d (at most 64 MiB)", s.MinFile, s.MaxFile)
		}
	case "seq":
		if s.Files < 1 || s.Size < 0 {
			return fmt.Errorf("seq: %d frames of %d bytes", s.Files, s.Size)
		}
	default:
		return fmt.Errorf("unknown workload kind %q (want big, tree, seq or scale)", s.Kind)
	}
	return nil
}

// Plan lists the files of s, in generation order. It depends only on s.
func (s Spec) Plan() ([]File, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Kind == "big" {
		return []File{{Path: "big.bin", Size: s.Size}}, nil
	}
	if s.Kind == "seq" {
		files := make([]File, s.Files)
		for i := range files {
			files[i] = File{Path: fmt.Sprintf("A001C003.%07d.exr", 86400+i), Size: s.Size}
		}
		return files, nil
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x7472656500000000))
	files := make([]File, 0, s.Files+s.Large)
	lo, hi := math.Log(float64(max(s.MinFile, 1))), math.Log(float64(max(s.MaxFile, 1)))
	for i := range s.Files {
		size := int64(math.Exp(lo + rng.Float64()*(hi-lo)))
		size = min(max(size, s.MinFile), s.MaxFile)
		files = append(files, File{Path: treePath(rng, i), Size: size})
	}
	largeMin := min(8*s.MaxFile, s.LargeMax)
	for i := range s.Large {
		size := largeMin + rng.Int64N(s.LargeMax-largeMin+1)
		files = append(files, File{Path: fmt.Sprintf("large/l%03d.bin", i), Size: size})
	}
	return files, nil
}

// treePath puts file i one to three directory levels deep, with up to eight
// names per level, so directories hold tens to hundreds of files.
func treePath(rng *rand.Rand, i int) string {
	depth := 1 + rng.IntN(3)
	p := ""
	for range depth {
		p += fmt.Sprintf("d%d/", rng.IntN(8))
	}
	return fmt.Sprintf("%sf%05d.bin", p, i)
}

// Describe returns the stats the workload of s has, without writing it.
func Describe(s Spec) (Stats, error) {
	if s.Kind == "scale" {
		if err := s.Validate(); err != nil {
			return Stats{}, err
		}
		return scaleStats(s), nil
	}
	files, err := s.Plan()
	if err != nil {
		return Stats{}, err
	}
	return stats(s, files), nil
}

// StampPath is the file beside root that records the Spec a complete
// workload was generated from; it lives outside root so that copying the
// root copies only the workload.
func StampPath(root string) string { return filepath.Clean(root) + ".workload.json" }

// Generate writes the workload of s below root, unless root already holds
// a complete workload of the same Spec (then it only returns its stats).
// Anything else at root is removed first. fresh reports whether files were
// written.
func Generate(root string, s Spec) (st Stats, fresh bool, err error) {
	var files []File
	if s.Kind == "scale" {
		st, err = Describe(s)
	} else if files, err = s.Plan(); err == nil {
		st = stats(s, files)
	}
	if err != nil {
		return Stats{}, false, err
	}
	var old Spec
	if b, err := os.ReadFile(StampPath(root)); err == nil {
		if json.Unmarshal(b, &old) == nil && reflect.DeepEqual(old, s) {
			return st, false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Stats{}, false, err
	}
	if err := os.Remove(StampPath(root)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Stats{}, false, err
	}
	if err := os.RemoveAll(root); err != nil {
		return Stats{}, false, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Stats{}, false, err
	}
	if s.Kind == "scale" {
		err = generateScale(root, s)
	} else {
		err = generateFiles(root, s, files)
	}
	if err != nil {
		return Stats{}, false, err
	}
	stamp, err := json.Marshal(s)
	if err != nil {
		return Stats{}, false, err
	}
	if err := os.WriteFile(StampPath(root), stamp, 0o644); err != nil {
		return Stats{}, false, err
	}
	return st, true, nil
}

// generateFiles writes files, the plan of s, below root.
func generateFiles(root string, s Spec, files []File) error {
	data := rand.NewChaCha8(seed32(s.Seed))
	buf := make([]byte, 1<<20)
	for _, f := range files {
		if err := writeFile(filepath.Join(root, filepath.FromSlash(f.Path)), f.Size, data, buf); err != nil {
			return err
		}
	}
	return nil
}

func stats(s Spec, files []File) Stats {
	st := Stats{Name: s.Kind, Files: len(files), Seed: s.Seed}
	dirs := map[string]bool{}
	for _, f := range files {
		st.Bytes += f.Size
		for d := filepath.Dir(filepath.FromSlash(f.Path)); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	st.Dirs = len(dirs)
	return st
}

func seed32(seed uint64) [32]byte {
	var k [32]byte
	for i := range 4 {
		v := seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			k[i*8+j] = byte(v >> (8 * j))
		}
	}
	return k
}

func writeFile(path string, size int64, data *rand.ChaCha8, buf []byte) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	for left := size; left > 0; {
		n := int(min(left, int64(len(buf))))
		if _, err := data.Read(buf[:n]); err != nil {
			return err
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= int64(n)
	}
	return nil
}
