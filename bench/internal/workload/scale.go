package workload

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// A "scale" workload is Files small files (MinFile to MaxFile bytes, 0 for
// empty ones) in the shape of a large archive: 100 to 1000 entries per
// directory, one to four subdirectories in each, at most 8 levels deep.
// It is generated as it is planned, file by file, so that ten million
// files cost no memory in the generator either.

// scaleMaxDepth is the deepest level of a scale workload.
const scaleMaxDepth = 8

// eachScale calls dir for every directory and file for every file of the
// scale workload s, parents before what they hold, in generation order.
// It depends only on s.
func (s Spec) eachScale(dir func(path string) error, file func(f File) error) error {
	rng := rand.New(rand.NewPCG(s.Seed, 0x7363616c65000000))
	made := 0
	var fill func(p string, depth int) error
	fill = func(p string, depth int) error {
		if made >= s.Files {
			return nil
		}
		if err := dir(p); err != nil {
			return err
		}
		entries, subdirs := 100+rng.IntN(901), 0
		if depth < scaleMaxDepth {
			subdirs = 1 + rng.IntN(4)
		}
		for i := 0; i < entries-subdirs && made < s.Files; i++ {
			size := s.MinFile
			if s.MaxFile > s.MinFile {
				size += rng.Int64N(s.MaxFile - s.MinFile + 1)
			}
			if err := file(File{Path: fmt.Sprintf("%s/f%04d.dat", p, i), Size: size}); err != nil {
				return err
			}
			made++
		}
		for i := range subdirs {
			if err := fill(fmt.Sprintf("%s/d%d", p, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for k := 0; made < s.Files; k++ {
		if err := fill(fmt.Sprintf("s%03d", k), 1); err != nil {
			return err
		}
	}
	return nil
}

// scaleStats are the stats of the scale workload s.
func scaleStats(s Spec) Stats {
	st := Stats{Name: s.Kind, Seed: s.Seed}
	_ = s.eachScale(func(string) error { st.Dirs++; return nil }, func(f File) error {
		st.Files++
		st.Bytes += f.Size
		return nil
	})
	return st
}

// generateScale writes the scale workload s below root, which exists and
// is empty.
func generateScale(root string, s Spec) error {
	data := rand.NewChaCha8(seed32(s.Seed))
	buf := make([]byte, max(s.MaxFile, 1))
	return s.eachScale(func(p string) error {
		return os.Mkdir(filepath.Join(root, filepath.FromSlash(p)), 0o755)
	}, func(f File) error {
		return writeFile(filepath.Join(root, filepath.FromSlash(f.Path)), f.Size, data, buf)
	})
}
