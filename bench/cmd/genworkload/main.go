// Command genworkload writes a reproducible benchmark source: one big file
// or a tree of files, all bytes from a seeded ChaCha8 stream (incompressible),
// and prints (or writes to -stats) its size as JSON for the report.
//
//	genworkload -kind big -size 2G -out DIR
//	genworkload -kind tree -files 10000 -out DIR
//	genworkload -kind seq -files 300 -size 8M -out DIR
//	genworkload -kind scale -files 10000000 -min-file 0 -max-file 0 -out DIR
//
// A directory that already holds the same workload is kept as it is.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/cvv-project/cvv/bench/internal/report"
	"github.com/cvv-project/cvv/bench/internal/workload"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "genworkload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("genworkload", flag.ContinueOnError)
	kind := fl.String("kind", "big", "workload kind: big, tree, seq (an image sequence) or scale (many small files, 100-1000 per directory, 8 levels deep)")
	out := fl.String("out", "", "directory to write the workload into (required)")
	seed := fl.Uint64("seed", 1, "seed of every random choice and byte")
	size := fl.String("size", "2G", "big: file size, seq: frame size (K, M, G suffixes are binary)")
	files := fl.Int("files", 10000, "tree: number of ordinary files, seq: number of frames")
	minFile := fl.String("min-file", "4K", "tree, scale: smallest ordinary file")
	maxFile := fl.String("max-file", "1M", "tree, scale: largest ordinary file")
	large := fl.Int("large", -1, "tree: number of larger files (-1: one per 2000 files, at least one)")
	largeMax := fl.String("large-max", "64M", "tree: largest of the larger files")
	statsPath := fl.String("stats", "", "write the workload stats JSON here instead of stdout")
	dryRun := fl.Bool("n", false, "only print the stats the workload would have; write nothing")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" || fl.NArg() != 0 {
		return fmt.Errorf("usage: genworkload -kind big|tree|seq|scale -out DIR [flags]")
	}
	s := workload.Spec{Kind: *kind, Seed: *seed}
	var err error
	parse := func(v string) int64 {
		n, perr := report.ParseSize(v)
		if perr != nil && err == nil {
			err = perr
		}
		return n
	}
	switch *kind {
	case "big":
		s.Size = parse(*size)
	case "seq":
		s.Size, s.Files = parse(*size), *files
	case "scale":
		s.Files = *files
		s.MinFile, s.MaxFile = parse(*minFile), parse(*maxFile)
	case "tree":
		s.Files = *files
		s.MinFile, s.MaxFile, s.LargeMax = parse(*minFile), parse(*maxFile), parse(*largeMax)
		s.Large = *large
		if s.Large < 0 {
			s.Large = max(1, *files/2000)
		}
	}
	if err != nil {
		return err
	}
	var st workload.Stats
	var fresh bool
	if *dryRun {
		st, err = workload.Describe(s)
	} else {
		st, fresh, err = workload.Generate(*out, s)
	}
	if err != nil {
		return err
	}
	st.Name = *kind
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	verb := "kept"
	switch {
	case *dryRun:
		verb = "would generate"
	case fresh:
		verb = "generated"
	}
	fmt.Fprintf(os.Stderr, "genworkload: %s %s: %d files, %d dirs, %d bytes\n", verb, *out, st.Files, st.Dirs, st.Bytes)
	if *statsPath == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(*statsPath, b, 0o644)
}
