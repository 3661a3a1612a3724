package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest/c4"
)

// ErrNoHistory is returned by ReadHistory for a root without an ASC MHL
// history.
var ErrNoHistory = errors.New("no ASC MHL history")

// Hash is one hash element of an ASC MHL file entry.
type Hash struct {
	Alg    hashing.Algorithm
	Value  string // lower-case hex
	Action string // "original", "verified", "failed" or ""
	Date   time.Time
}

// Entry is one file of a generation.
type Entry struct {
	Path    string // relative to the root, '/' separators
	Size    int64  // -1 when not recorded
	ModTime time.Time
	Hashes  []Hash // the hash elements cvv can check (not c4)
}

// Generation is one parsed ASC MHL hash list.
type Generation struct {
	// Number is the generation number from the file name.
	Number int
	// File is the path of the .mhl file.
	File string
	// C4 is the C4 ID of the file as read.
	C4 string
	// Created, Host, Tool, ToolVersion and Process come from creatorinfo
	// and processinfo.
	Created     time.Time
	Host        string
	Tool        string
	ToolVersion string
	Process     string
	// Files are the file entries, in file order.
	Files []Entry
	// Dirs are the relative paths of the directory entries, in file
	// order (ParseGeneration, ReadHistory); nil for a generation
	// OpenHistory read, which keeps them in a temporary file.
	Dirs []string
	// References are the generations of child histories this one
	// references.
	References []Reference
	// Ignore are the patterns of processinfo's ignore list.
	Ignore []string
	// sorted holds the entries in path order of a generation OpenHistory
	// found in another order.
	sorted *sortedEntries
	// dirSums hold the directory entries of a generation OpenHistory
	// read (Dirs is nil then).
	dirSums *dirSums
	// firstAlg is the algorithm of the first hash of the first file that
	// has one (OpenHistory).
	firstAlg *hashing.Algorithm
}

// Reference is one <hashlistreference>: a child history's generation.
type Reference struct {
	// Path is the generation file's path relative to the root
	// ("A001/ascmhl/0002_A001_2024-03-01_090000Z.mhl").
	Path string
	// C4 is the C4 ID of that file.
	C4 string
}

// History is the ASC MHL history of a root.
type History struct {
	Root string
	// Generations in increasing number.
	Generations []*Generation
	// refs indexes the reference hash of every path, by algorithm, once
	// asked (indexReferences); a History is not safe for concurrent use.
	refs map[hashing.Algorithm]map[string]historyRef
}

// ReadHistory reads every generation of root's ASC MHL history and checks
// it against the chain file: each generation listed in the chain must
// exist with the recorded C4 hash, and each generation file must be listed.
// It returns an error wrapping ErrNoHistory when root has no ascmhl folder
// or no generation, and one wrapping ErrCorrupt for anything else wrong.
// Every generation's Files are read into memory: OpenHistory reads them
// as they are needed instead.
func ReadHistory(root string) (*History, error) {
	return readHistory(root, readGenerations)
}

// readHistory reads root's history with read, which reads the generation
// files among the entries of the history directory, by number.
func readHistory(root string, read func(dir string, ents []os.DirEntry) (map[int]*Generation, error)) (*History, error) {
	dir := filepath.Join(root, HistoryDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", root, ErrNoHistory)
	}
	if err != nil {
		return nil, err
	}
	h := &History{Root: root}
	byNum, err := read(dir, ents)
	if err != nil {
		return nil, err
	}
	for _, g := range byNum {
		h.Generations = append(h.Generations, g)
	}
	if err := h.checkChain(dir, byNum); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// checkChain checks h's generations (byNum) against the chain file and
// keeps the committed ones, sorted by number.
func (h *History) checkChain(dir string, byNum map[int]*Generation) error {
	chainPath := filepath.Join(dir, ChainFile)
	if len(h.Generations) == 0 {
		// A chain that lists generations which are gone is not "no history".
		if data, err := os.ReadFile(chainPath); err == nil {
			if chain, err := parseChain(bytes.NewReader(data)); err != nil || len(chain) > 0 {
				return fmt.Errorf("%w: %s lists generations, but %s holds none", ErrCorrupt, chainPath, dir)
			}
		}
		return fmt.Errorf("%s: %w", h.Root, ErrNoHistory)
	}
	slices.SortFunc(h.Generations, func(a, b *Generation) int { return a.Number - b.Number })

	var chain []chainEntry
	f, err := os.Open(chainPath)
	switch {
	case err == nil:
		defer f.Close()
		if chain, err = parseChain(f); err != nil {
			return fmt.Errorf("%s: %w", chainPath, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case len(h.Generations) > 1 || h.Generations[0].Number != 1:
		// Only the very first commit can leave no chain.
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	committed, err := committedGenerations(h.Generations, byNum, chain, chainPath)
	if err != nil {
		return err
	}
	h.Generations = committed
	if len(committed) == 0 {
		return fmt.Errorf("%s: %w (only an uncommitted generation)", h.Root, ErrNoHistory)
	}
	return nil
}

// ReadNewest returns the newest generation of root's ASC MHL history.
func ReadNewest(root string) (*Generation, error) {
	h, err := ReadHistory(root)
	if err != nil {
		return nil, err
	}
	return h.Generations[len(h.Generations)-1], nil
}

// readGenerations reads and parses every generation file among ents, the
// entries of the history directory dir, by number.
func readGenerations(dir string, ents []os.DirEntry) (map[int]*Generation, error) {
	byNum := map[int]*Generation{}
	for _, e := range ents {
		n, ok := generationNumber(e.Name())
		if !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		g, err := ParseGeneration(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if byNum[n] != nil {
			return nil, fmt.Errorf("%w: %s: generation %d exists twice", ErrCorrupt, dir, n)
		}
		g.Number, g.File, g.C4 = n, p, c4.Sum(data)
		byNum[n] = g
	}
	return byNum, nil
}

// committedGenerations checks gens (sorted by number) against the chain
// and returns those it lists.
func committedGenerations(gens []*Generation, byNum map[int]*Generation, chain []chainEntry, chainPath string) ([]*Generation, error) {
	listed := map[int]bool{}
	last := 0
	for _, c := range chain {
		last = max(last, c.Seq)
		g := byNum[c.Seq]
		if g == nil || filepath.Base(g.File) != c.Path {
			return nil, fmt.Errorf("%w: %s lists generation %d %q, which is missing", ErrCorrupt, chainPath, c.Seq, c.Path)
		}
		if g.C4 != c.C4 {
			return nil, fmt.Errorf("%w: %s does not match its C4 hash in %s: it was modified", ErrCorrupt, g.File, ChainFile)
		}
		listed[c.Seq] = true
	}
	// A generation is committed by listing it in the chain, after it is
	// written: the unlisted ones newer than the chain's last are what an
	// interrupted commit (a crash, a power cut) left, and are not part of
	// the history. An unlisted one older than a listed one is tampering.
	committed := gens[:0]
	for _, g := range gens {
		switch {
		case listed[g.Number]:
			committed = append(committed, g)
		case g.Number < last:
			return nil, fmt.Errorf("%w: %s is not listed in %s", ErrCorrupt, g.File, ChainFile)
		}
	}
	return committed, nil
}

// generationNumber returns the number of a generation file name
// "NNNN_anything.mhl".
func generationNumber(name string) (int, bool) {
	if !strings.HasSuffix(name, ".mhl") {
		return 0, false
	}
	digits, _, ok := strings.Cut(strings.TrimSuffix(name, ".mhl"), "_")
	if !ok || len(digits) < 4 {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 || strings.ContainsAny(digits, "+-") {
		return 0, false
	}
	return n, true
}

// action decides the MHL action of a new hash for path, as the reference
// implementation does: "original" when no generation has an original hash
// of path, else "verified" or "failed" against the first recorded hash in
// alg.
func (h *History) action(path string, alg hashing.Algorithm, value string) string {
	ref, ok := h.reference(path, alg)
	if !ok {
		return "original"
	}
	if ref.Value == "" || !strings.EqualFold(ref.Value, value) {
		return "failed"
	}
	return "verified"
}

// reference returns the hash a new hash of path in alg is checked
// against: the first non-failed hash in alg over all generations. ok is
// false when the history has never recorded path. A recorded path with
// only failed hashes, or none in alg, gives a Hash with an empty Value.
//
// The first call for alg indexes the history by path, so that checking a
// whole generation against it costs one pass over the history, not one
// per file.
func (h *History) reference(path string, alg hashing.Algorithm) (Hash, bool) {
	idx, ok := h.refs[alg]
	if !ok {
		// A History read into memory cannot fail; one opened
		// (OpenHistory) is indexed, and its error returned, by
		// indexReferences before it is asked.
		_ = h.indexReferences(alg)
		idx = h.refs[alg]
	}
	r, seen := idx[path]
	if !r.found {
		return Hash{Alg: alg}, seen
	}
	return r.hash, true
}

// historyRef is the reference hash of one path in one algorithm; found is
// false while no non-failed hash in it is known.
type historyRef struct {
	hash  Hash
	found bool
}

// indexReferences maps every path of the history to its reference hash
// in alg (once per alg), reading the generations' entries oldest first.
// The index holds one entry per path recorded, not the generations.
func (h *History) indexReferences(alg hashing.Algorithm) error {
	if _, ok := h.refs[alg]; ok {
		return nil
	}
	if h.refs == nil {
		h.refs = map[hashing.Algorithm]map[string]historyRef{}
	}
	idx := map[string]historyRef{}
	for _, g := range h.Generations {
		for e, err := range g.Entries() {
			if err != nil {
				return err
			}
			if r := idx[e.Path]; r.found {
				continue
			}
			r := historyRef{}
			for _, hh := range e.Hashes {
				if hh.Alg == alg && hh.Action != "failed" {
					r = historyRef{hash: hh, found: true}
					break
				}
			}
			idx[e.Path] = r
		}
	}
	h.refs[alg] = idx
	return nil
}

// Expected returns what a verification checks: every file path recorded
// in any generation, with its reference hash (the first non-failed hash,
// in the algorithm of the newest generation) and last recorded size. A
// File with an empty Hash can only fail.
func (h *History) Expected() (hashing.Algorithm, []File, error) {
	var out []File
	for f, err := range h.ExpectedFiles() {
		if err != nil {
			return 0, nil, err
		}
		out = append(out, f)
	}
	return h.ExpectedAlg(), out, nil
}

// ExpectedAlg is the algorithm Expected checks in: the one of the newest
// generation's first file hash (xxh64 for a history without one).
func (h *History) ExpectedAlg() hashing.Algorithm {
	newest := h.Generations[len(h.Generations)-1]
	if newest.firstAlg != nil {
		return *newest.firstAlg
	}
	for _, e := range newest.Files {
		if len(e.Hashes) > 0 {
			return e.Hashes[0].Alg
		}
	}
	return hashing.XXH64
}

// XML shapes of ASC MHL v2 (only what cvv reads).
type xmlHashValue struct {
	Value    string `xml:",chardata"`
	Action   string `xml:"action,attr"`
	HashDate string `xml:"hashdate,attr"`
}

type xmlPath struct {
	Value   string `xml:",chardata"`
	Size    string `xml:"size,attr"`
	LastMod string `xml:"lastmodificationdate,attr"`
}

type xmlHash struct {
	Path *xmlPath      `xml:"path"`
	C4   *xmlHashValue `xml:"c4"`
	xmlDigests
}

// xmlDigests is the choice of hash elements ASC MHL allows in one place.
type xmlDigests struct {
	MD5    *xmlHashValue `xml:"md5"`
	SHA1   *xmlHashValue `xml:"sha1"`
	XXH128 *xmlHashValue `xml:"xxh128"`
	XXH3   *xmlHashValue `xml:"xxh3"`
	XXH64  *xmlHashValue `xml:"xxh64"`
}

// algDigest is one digest element of xmlDigests, with its algorithm.
type algDigest struct {
	alg hashing.Algorithm
	x   *xmlHashValue
}

// each lists the digest elements, present or not.
func (d *xmlDigests) each() []algDigest {
	return []algDigest{{hashing.MD5, d.MD5}, {hashing.SHA1, d.SHA1}, {hashing.XXH128, d.XXH128}, {hashing.XXH3, d.XXH3}, {hashing.XXH64, d.XXH64}}
}

// xmlDirSum is the content and structure hash of a directory (or the root).
type xmlDirSum struct {
	Content   *xmlDigests `xml:"content"`
	Structure *xmlDigests `xml:"structure"`
}

// check reports a digest of the wrong length or not in hex.
func (s *xmlDirSum) check() error {
	for _, d := range []*xmlDigests{s.Content, s.Structure} {
		if d == nil {
			continue
		}
		for _, v := range d.each() {
			if v.x == nil {
				continue
			}
			if err := checkHex(strings.ToLower(strings.TrimSpace(v.x.Value)), v.alg); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseGeneration parses one ASC MHL v2 hash list. Errors wrap ErrCorrupt.
func ParseGeneration(r io.Reader) (*Generation, error) {
	var files []Entry
	var dirs []string
	seen := map[string]bool{}
	sums := newDirSums()
	defer sums.close()
	g, root, err := scanGeneration(r, scanVisitor{file: func(e Entry) error {
		if seen[e.Path] {
			return fmt.Errorf("%w: %q recorded twice", ErrCorrupt, e.Path)
		}
		seen[e.Path] = true
		files = append(files, e)
		return nil
	}, dir: func(p string, sum *xmlDirSum) error {
		dirs = append(dirs, p)
		return sums.add(p, sum)
	}})
	if err == nil {
		err = sums.finish()
	}
	if err != nil {
		return nil, err
	}
	g.Files, g.Dirs = files, dirs
	if root != nil {
		sums.setRoot(root)
	}
	// Other tools' directory hashes may follow other definitions (the
	// ASC sample's are placeholders); cvv's own must match, except in a
	// generation with nested histories, whose directories hash files it
	// does not list.
	if g.Tool == ToolName && len(g.References) == 0 {
		if err := sums.check(g.Entries); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// entry checks and converts one <hash> of a generation.
func (xh *xmlHash) entry() (Entry, error) {
	if xh.Path == nil {
		return Entry{}, errors.New("hash without path")
	}
	e := Entry{Path: xh.Path.Value, Size: -1}
	if err := checkPath(e.Path); err != nil {
		return e, err
	}
	var err error
	if xh.Path.Size != "" {
		if e.Size, err = strconv.ParseInt(xh.Path.Size, 10, 64); err != nil || e.Size < 0 {
			return e, fmt.Errorf("%q: bad size %q", e.Path, xh.Path.Size)
		}
	}
	if xh.Path.LastMod != "" {
		if e.ModTime, err = parseXMLTime(xh.Path.LastMod); err != nil {
			return e, fmt.Errorf("%q: lastmodificationdate: %w", e.Path, err)
		}
	}
	for _, v := range xh.each() {
		if v.x == nil {
			continue
		}
		hh := Hash{Alg: v.alg, Value: strings.ToLower(strings.TrimSpace(v.x.Value)), Action: v.x.Action}
		if err := checkHex(hh.Value, v.alg); err != nil {
			return e, fmt.Errorf("%q: %w", e.Path, err)
		}
		switch hh.Action {
		case "", "original", "verified", "failed":
		default:
			return e, fmt.Errorf("%q: invalid action %q", e.Path, hh.Action)
		}
		if v.x.HashDate != "" {
			if hh.Date, err = parseXMLTime(v.x.HashDate); err != nil {
				return e, fmt.Errorf("%q: hashdate: %w", e.Path, err)
			}
		}
		e.Hashes = append(e.Hashes, hh)
	}
	if len(e.Hashes) == 0 && xh.C4 == nil {
		return e, fmt.Errorf("%q has no hash", e.Path)
	}
	return e, nil
}

// dirName names the directory p of a generation ("" is the root).
func dirName(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

type chainEntry struct {
	Seq  int
	Path string
	C4   string
}

type xmlChain struct {
	XMLName xml.Name `xml:"urn:ASC:MHL:DIRECTORY:v2.0 ascmhldirectory"`
	Lists   []struct {
		Seq  string `xml:"sequencenr,attr"`
		Path string `xml:"path"`
		C4   string `xml:"c4"`
	} `xml:"hashlist"`
}

// parseChain parses an ascmhl_chain.xml. Errors wrap ErrCorrupt.
func parseChain(r io.Reader) ([]chainEntry, error) {
	var x xmlChain
	if err := decodeStrict(r, &x); err != nil {
		return nil, err
	}
	var out []chainEntry
	seen := map[int]bool{}
	for _, l := range x.Lists {
		n, err := strconv.Atoi(l.Seq)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad sequencenr %q", ErrCorrupt, l.Seq)
		}
		if seen[n] {
			return nil, fmt.Errorf("%w: sequencenr %d twice", ErrCorrupt, n)
		}
		seen[n] = true
		p := strings.TrimSpace(l.Path)
		if p == "" || strings.ContainsAny(p, `/\`) {
			return nil, fmt.Errorf("%w: bad generation path %q", ErrCorrupt, l.Path)
		}
		id := strings.TrimSpace(l.C4)
		if _, err := c4.Parse(id); err != nil {
			return nil, fmt.Errorf("%w: generation %d: %w", ErrCorrupt, n, err)
		}
		out = append(out, chainEntry{Seq: n, Path: p, C4: id})
	}
	return out, nil
}

// decodeStrict decodes exactly one XML document into v: anything but
// whitespace, comments or processing instructions after the root element
// is an error too.
func decodeStrict(r io.Reader, v any) error {
	return decodeStrictWith(r, v, nil)
}

// decodeStrictWith is decodeStrict with a CharsetReader for documents that
// declare an encoding other than UTF-8.
func decodeStrictWith(r io.Reader, v any, charset func(string, io.Reader) (io.Reader, error)) error {
	d := xml.NewDecoder(r)
	d.Strict = true
	d.CharsetReader = charset
	if err := d.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return checkTrailer(d)
}

func parseXMLTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}
