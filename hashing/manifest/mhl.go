package manifest

import (
	"bufio"
	"bytes"
	"crypto/sha512"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cvv-project/cvv/hashing"
	"github.com/cvv-project/cvv/hashing/manifest/c4"
	"github.com/cvv-project/cvv/internal/atomicfile"
)

// ASC MHL v2 names.
const (
	// HistoryDir is the folder of an ASC MHL history, below the root.
	HistoryDir = "ascmhl"
	// ChainFile is the chain file in HistoryDir.
	ChainFile = "ascmhl_chain.xml"
	// ToolName is the creatorinfo tool name cvv writes.
	ToolName = "cvv"

	mhlNamespace   = "urn:ASC:MHL:v2.0"
	chainNamespace = "urn:ASC:MHL:DIRECTORY:v2.0"
)

// ToolVersion is the creatorinfo tool version: the module version cvv was
// built at, or "devel" for a build from a work tree.
var ToolVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
})

// mhlElement is the ASC MHL hash element name of alg ("" if it has none).
func mhlElement(alg hashing.Algorithm) string {
	switch alg {
	case hashing.XXH3, hashing.XXH64, hashing.XXH128, hashing.MD5, hashing.SHA1:
		return alg.String()
	}
	return ""
}

// mhlOutput is a generation ready to be rendered and committed: what it
// records is known and checked, its bytes are written by commit, straight
// into the generation's temp file.
type mhlOutput struct {
	dir     string // Root/ascmhl
	genName string
	stale   []string // names of uncommitted generations to remove first
	rec     Record   // Root is the history's root, Files its own files
	ignore  []string
	node    *nestedHistory
	hist    *History // never nil
	next    int      // the generation's number
	// parent is the generation that references this one (a child
	// history's), by refPath; commit adds the reference once this one's
	// C4 ID is known.
	parent  *nestedHistory
	refPath string
	// top is the root of the tree of histories, which holds the
	// directory hashes.
	top *nestedHistory
}

// prepareMHL renders the next generation of rec's history and of every
// child history below it, in commit order (deepest first), with the
// updated chain files. It reads, and so checks, each existing history
// first.
//
// Nesting follows the ASC reference implementation: a folder below the
// root that holds an ascmhl history records the files below it in its own
// history, which gets a generation of its own; its parent lists it as a
// directory hash (its root hash) and references the child's new generation
// (<references><hashlistreference> with the path from the parent's root
// and its C4 ID). Directory hashes always cover everything below a
// directory, nested histories' files too.
func prepareMHL(rec Record, formats []Format) ([]*mhlOutput, error) {
	tree, err := nestedHistories(rec)
	if err != nil {
		return nil, err
	}
	if err = tree.assign(rec); err == nil {
		err = tree.hashDirs(rec)
	}
	if err != nil {
		tree.close()
		return nil, err
	}
	var outs []*mhlOutput
	var walk func(n *nestedHistory) (*mhlOutput, error)
	walk = func(n *nestedHistory) (*mhlOutput, error) {
		var children []*mhlOutput
		for _, c := range n.children {
			out, err := walk(c)
			if err != nil {
				return nil, err
			}
			if out != nil {
				out.parent = n
				out.refPath = path.Join(relTo(n.prefix, c.prefix), HistoryDir, out.genName)
				children = append(children, out)
			}
		}
		if n.prefix != "" && !n.holds && len(children) == 0 {
			return nil, nil
		}
		sub := rec
		sub.Root = filepath.Join(rec.Root, filepath.FromSlash(n.prefix))
		sub.Files, sub.keep = n.files, n.keep
		out, err := prepareGeneration(sub, n, formats)
		if err != nil {
			return nil, err
		}
		out.top = tree
		outs = append(outs, out)
		return out, nil
	}
	if _, err := walk(tree); err != nil {
		tree.close()
		return nil, err
	}
	return outs, nil
}

// hashDirs folds the directory hashes of rec's files and directories
// (n is the tree's root): each history's root hash, whether it has
// other directories, and their hashes with their modification times in
// path order, in bounded memory (an entrySorter), from which every
// history's generation takes its own. An error reading a Spool or writing
// the temporary file is returned.
func (n *nestedHistory) hashDirs(rec Record) error {
	s := newDirSorter(func(p string) error { return fmt.Errorf("directory %q hashed twice", p) })
	err := foldDirectoryHashes(rec.Alg, rec.files(), dirKeys(rec.Dirs), func(d string, h dirHash) error {
		if d == "" {
			n.root = h
			return nil
		}
		if o := n.owner(d, true); o.prefix == d {
			// A child's root is a directory of its parent too.
			o.root = h
			n.owner(d, false).hasDirs = true
		} else {
			o.hasDirs = true
		}
		if st, err := os.Stat(filepath.Join(rec.Root, filepath.FromSlash(d))); err == nil {
			h.modTime = st.ModTime()
		}
		return s.add(dirEntry(d, h))
	})
	if err != nil {
		s.close()
		return err
	}
	n.dirHashes, err = s.finish()
	return err
}

// assign gives each history of the tree the files of rec it records,
// with paths relative to its root: Files split into lists, or for a
// Spool the filter that picks them as it is read (with child histories,
// one pass finds which of them record a file).
func (n *nestedHistory) assign(rec Record) error {
	switch {
	case rec.Spool != nil && len(n.children) == 0:
		var err error
		n.keep = rec.keep
		n.holds, err = rec.hasFiles()
		return err
	case rec.Spool != nil:
		for f, err := range rec.files() {
			if err != nil {
				return err
			}
			n.owner(f.Path, false).holds = true
		}
		n.pick(n, rec.keep)
	case len(n.children) == 0:
		// One history records everything: no copy of the files.
		n.files, n.holds = rec.Files, len(rec.Files) > 0
	default:
		for _, f := range rec.Files {
			o := n.owner(f.Path, false)
			f.Path = relTo(o.prefix, f.Path)
			o.files = append(o.files, f)
			o.holds = true
		}
	}
	return nil
}

// pick sets the Spool filter of n and of the histories below it (top is
// the tree's root): keep (the record's), then the files n records,
// relative to its root.
func (n *nestedHistory) pick(top *nestedHistory, keep func(File) (File, bool)) {
	n.keep = keep
	if n.prefix != "" || len(n.children) > 0 {
		n.keep = func(f File) (File, bool) {
			if keep != nil {
				var ok bool
				if f, ok = keep(f); !ok {
					return f, false
				}
			}
			if top.owner(f.Path, false) != n {
				return f, false
			}
			f.Path = relTo(n.prefix, f.Path)
			return f, true
		}
	}
	for _, c := range n.children {
		c.pick(top, keep)
	}
}

// close releases what the histories of the tree hold (OpenHistory).
func (n *nestedHistory) close() {
	n.hist.Close()
	n.dirHashes.close()
	for _, c := range n.children {
		c.close()
	}
}

// closeHistories releases the histories prepareMHL opened for outs.
func closeHistories(outs []*mhlOutput) {
	for _, o := range outs {
		if o.node.prefix == "" {
			o.node.close() // the root's: the whole tree
		}
	}
}

// hashListRef is one <hashlistreference> of a generation.
type hashListRef struct {
	path, c4 string
}

// nestedHistory is one history of a nested write: the root's, or a child's.
type nestedHistory struct {
	prefix   string // its root relative to the record's root ("" for the root)
	hist     *History
	files    []File                  // relative to its root
	keep     func(File) (File, bool) // picks its files of a Spool
	holds    bool                    // records a file
	root     dirHash                 // its root hash
	hasDirs  bool                    // has a directory hash besides root
	refs     []hashListRef
	children []*nestedHistory
	// dirHashes are the directory hashes of every history, by path
	// relative to the record's root (the tree's root only; hashDirs).
	dirHashes *sortedEntries
}

// nestedHistories reads the history of rec.Root and of every directory
// of rec that holds an ascmhl history, and returns them as a tree, each
// node's children in path order. The directories are visited as a walk
// of the record's files and directories passes them: none is held.
func nestedHistories(rec Record) (*nestedHistory, error) {
	top, err := readNested(rec.Root, "")
	if err != nil {
		return nil, err
	}
	if err := walkDirs(rec.files(), dirKeys(rec.Dirs), &historyFinder{root: rec.Root, top: top}); err != nil {
		top.close()
		return nil, err
	}
	top.sortChildren()
	return top, nil
}

// readNested opens the history of root/prefix: nil for a folder below
// the root without one.
func readNested(root, prefix string) (*nestedHistory, error) {
	// Opened, not read into memory: the generations' files are read
	// again only to index the actions (Record.Files without one).
	h, err := OpenHistory(filepath.Join(root, filepath.FromSlash(prefix)))
	if err != nil && !errors.Is(err, ErrNoHistory) {
		return nil, err
	}
	if h == nil && prefix != "" {
		return nil, nil
	}
	return &nestedHistory{prefix: prefix, hist: h}, nil
}

// historyFinder is the dirVisitor of nestedHistories: it adds each
// directory that holds an ascmhl folder to the tree below top, parents
// first.
type historyFinder struct {
	root string
	top  *nestedHistory
}

func (f *historyFinder) open(d string) error {
	if st, err := os.Lstat(filepath.Join(f.root, filepath.FromSlash(d), HistoryDir)); err != nil || !st.IsDir() {
		return nil
	}
	n, err := readNested(f.root, d)
	if n != nil {
		p := f.top.owner(d, false)
		p.children = append(p.children, n)
	}
	return err
}

func (f *historyFinder) file(File) error    { return nil }
func (f *historyFinder) close(string) error { return nil }

// sortChildren sorts the children of n and of every history below it by
// path (the walk finds them in directory order: "a-b" before "a").
func (n *nestedHistory) sortChildren() {
	slices.SortFunc(n.children, func(a, b *nestedHistory) int { return strings.Compare(a.prefix, b.prefix) })
	for _, c := range n.children {
		c.sortChildren()
	}
}

// owner returns the history that records p: the deepest one whose root
// is above p, or is p itself when self is true.
func (n *nestedHistory) owner(p string, self bool) *nestedHistory {
	for _, c := range n.children {
		if (self && p == c.prefix) || strings.HasPrefix(p, c.prefix+"/") {
			return c.owner(p, self)
		}
	}
	return n
}

// relTo returns p relative to prefix; p is prefix or below it.
func relTo(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == prefix:
		return ""
	}
	return strings.TrimPrefix(p, prefix+"/")
}

// prepareGeneration renders the next generation of one history (rec.Root
// is its root, rec.Files its own files) and its updated chain file.
func prepareGeneration(rec Record, n *nestedHistory, formats []Format) (*mhlOutput, error) {
	dir := filepath.Join(rec.Root, HistoryDir)
	hist := n.hist
	if hist == nil {
		hist = &History{Root: rec.Root}
	}
	blank := rec.Spool != nil && rec.Spool.blank || slices.ContainsFunc(rec.Files, func(f File) bool { return f.Action == "" })
	if blank {
		if err := hist.indexReferences(rec.Alg); err != nil {
			return nil, err
		}
	}
	next := 1
	if k := len(hist.Generations); k > 0 {
		next = hist.Generations[k-1].Number + 1
	}
	// Any .mhl file with a generation number counts, even one missing from
	// the chain: never reuse its number. Those missing from the history
	// are what an interrupted commit left (ReadHistory accepted them as
	// such): the commit removes them.
	var stale []string
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			k, ok := generationNumber(e.Name())
			if !ok {
				continue
			}
			next = max(next, k+1)
			if !slices.ContainsFunc(hist.Generations, func(g *Generation) bool { return g.Number == k }) {
				stale = append(stale, e.Name())
			}
		}
	}
	name := fmt.Sprintf("%04d_%s_%sZ.mhl", next, rootName(rec.Root), rec.Start.UTC().Format("2006-01-02_150405"))
	// The ignore list grows as the reference tool's does: the newest
	// generation's patterns, then this run's.
	var ignore []string
	if k := len(hist.Generations); k > 0 {
		ignore = append(ignore, hist.Generations[k-1].Ignore...)
	}
	ignore = append(ignore, rec.Ignore...)
	if n.prefix == "" {
		for _, f := range formats {
			switch f {
			case MHL:
			case MHL1:
				ignore = append(ignore, filepath.Base(ClassicFileName(rec.Root, rec.Start)))
			default:
				ignore = append(ignore, filepath.Base(FileName(rec.Root, f, rec.Alg)))
			}
		}
	}
	return &mhlOutput{dir: dir, genName: name, stale: stale, rec: rec, ignore: ignore, node: n, hist: hist, next: next}, nil
}

// chain renders the chain file that lists the history's generations and
// this one, whose C4 ID is id.
func (m *mhlOutput) chain(id string) []byte {
	var chain bytes.Buffer
	chain.WriteString(xml.Header)
	fmt.Fprintf(&chain, "<ascmhldirectory xmlns=%q>\n", chainNamespace)
	for _, g := range m.hist.Generations {
		writeChainEntry(&chain, g.Number, filepath.Base(g.File), g.C4)
	}
	writeChainEntry(&chain, m.next, m.genName, id)
	chain.WriteString("</ascmhldirectory>\n")
	return chain.Bytes()
}

// render writes the generation to w and returns its C4 ID.
func (m *mhlOutput) render(w io.Writer) (string, error) {
	h := sha512.New()
	if err := writeGeneration(io.MultiWriter(w, h), m.rec, m.hist, m.ignore, m.node, m.top); err != nil {
		return "", err
	}
	var d [sha512.Size]byte
	h.Sum(d[:0])
	return c4.FromDigest(d), nil
}

func writeChainEntry(b *bytes.Buffer, n int, name, id string) {
	fmt.Fprintf(b, "  <hashlist sequencenr=\"%d\">\n    <path>%s</path>\n    <c4>%s</c4>\n  </hashlist>\n", n, xmlText(name), id)
}

// commit removes the generations an interrupted commit left, writes the
// generation, then the chain: listing it in the chain commits it. (The
// generation's directory fsync makes the removals durable before the chain
// lists a newer generation, which would make them look tampered with.) A
// generation that cannot be chained is removed again.
//
// Below root (the record's root) nothing is reached through a symlink
// (atomicfile.Dir): an ascmhl folder, or a folder above it, that is a symlink
// fails the commit with an error wrapping cvv.ErrSymlink, and nothing is
// written or removed where it points.
func (m *mhlOutput) commit(root *atomicfile.Dir) ([]string, error) {
	hist, err := m.openDir(root)
	if err != nil {
		return nil, err
	}
	defer hist.Close()
	for _, name := range m.stale {
		if err := hist.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing the uncommitted generation: %w", err)
		}
	}
	gen := filepath.Join(m.dir, m.genName)
	if _, err := hist.Lstat(m.genName); err == nil {
		return nil, &os.PathError{Op: "write generation", Path: gen, Err: os.ErrExist}
	}
	var id string
	if err := writeAtomicFunc(hist, gen, func(w io.Writer) (err error) {
		id, err = m.render(w)
		return err
	}); err != nil {
		return nil, err
	}
	chain := filepath.Join(m.dir, ChainFile)
	if err := writeAtomic(hist, chain, m.chain(id)); err != nil {
		if rerr := hist.Remove(m.genName); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	if m.parent != nil {
		m.parent.refs = append(m.parent.refs, hashListRef{path: m.refPath, c4: id})
	}
	return []string{gen, chain}, nil
}

// openDir opens the history folder m.dir below root, made (and its parent
// fsynced) if missing, with no symlink followed.
func (m *mhlOutput) openDir(root *atomicfile.Dir) (*atomicfile.Dir, error) {
	rel, err := root.Rel(filepath.Dir(m.dir))
	if err != nil {
		return nil, err
	}
	parent, err := root.OpenDir(rel)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	switch err := parent.Mkdir(HistoryDir, 0o755); {
	case err == nil:
		// The new folder's name must survive a power cut with the
		// generation written into it.
		if err := parent.Sync(); err != nil {
			return nil, err
		}
	case !errors.Is(err, os.ErrExist):
		return nil, err
	}
	return parent.OpenDir(HistoryDir)
}

// xmlText escapes s for XML character data; newlines and carriage returns
// become character references so that a parser returns them unchanged.
func xmlText(s string) string {
	var b strings.Builder
	// xml.EscapeText escapes \n and \r as &#xA; and &#xD;. It cannot
	// fail on a strings.Builder.
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func xmlTime(t time.Time) string {
	return t.Format(time.RFC3339)
}

// writeGeneration writes one ASC MHL v2 hash list to w: rec's files (the
// action of one that has none is decided against hist), the directory
// hashes of n (the history of rec.Root, in the tree of histories top) and
// its references to child histories' generations.
//
// It reads nothing but its arguments (see Record.withDefaults and
// dirHash.modTime), so the same inputs give the same bytes.
func writeGeneration(w io.Writer, rec Record, hist *History, ignore []string, n, top *nestedHistory) error {
	el := mhlElement(rec.Alg)
	b := bufio.NewWriterSize(w, 64<<10)
	writeGenerationHead(b, rec, el, ignore, n.root)
	if n.holds || n.hasDirs {
		b.WriteString("  <hashes>\n")
		if err := writeFileHashes(b, rec, hist, el); err != nil {
			return err
		}
		if err := writeDirHashes(b, rec, el, n, top); err != nil {
			return err
		}
		b.WriteString("  </hashes>\n")
	}
	if len(n.refs) > 0 {
		b.WriteString("  <references>\n")
		for _, r := range n.refs {
			fmt.Fprintf(b, "    <hashlistreference>\n      <path>%s</path>\n      <c4>%s</c4>\n    </hashlistreference>\n", xmlText(r.path), r.c4)
		}
		b.WriteString("  </references>\n")
	}
	b.WriteString("</hashlist>\n")
	return b.Flush()
}

// writeGenerationHead writes the XML header, the creator and the process
// info of a generation, with root its root hash.
func writeGenerationHead(b *bufio.Writer, rec Record, el string, ignore []string, root dirHash) {
	process := rec.Process
	if process == "" {
		process = "transfer"
	}
	b.WriteString(xml.Header)
	fmt.Fprintf(b, "<hashlist version=\"2.0\" xmlns=%q>\n", mhlNamespace)
	b.WriteString("  <creatorinfo>\n")
	fmt.Fprintf(b, "    <creationdate>%s</creationdate>\n", xmlTime(rec.Start))
	fmt.Fprintf(b, "    <hostname>%s</hostname>\n", xmlText(rec.Host))
	fmt.Fprintf(b, "    <tool version=\"%s\">%s</tool>\n", xmlText(ToolVersion()), ToolName)
	if rec.Comment != "" {
		fmt.Fprintf(b, "    <comment>%s</comment>\n", xmlText(rec.Comment))
	}
	b.WriteString("  </creatorinfo>\n")
	b.WriteString("  <processinfo>\n")
	fmt.Fprintf(b, "    <process>%s</process>\n", process)
	b.WriteString("    <roothash>\n")
	fmt.Fprintf(b, "      <content>\n        <%s hashdate=\"%s\">%s</%[1]s>\n      </content>\n", el, xmlTime(rec.Start), root.content)
	fmt.Fprintf(b, "      <structure>\n        <%s hashdate=\"%s\">%s</%[1]s>\n      </structure>\n", el, xmlTime(rec.Start), root.structure)
	b.WriteString("    </roothash>\n")
	b.WriteString("    <ignore>\n")
	seen := map[string]bool{}
	for _, p := range append([]string{HistoryDir, HistoryDir + "/"}, ignore...) {
		if !seen[p] {
			seen[p] = true
			fmt.Fprintf(b, "      <pattern>%s</pattern>\n", xmlText(p))
		}
	}
	b.WriteString("    </ignore>\n")
	b.WriteString("  </processinfo>\n")
}

// writeFileHashes writes the hash element of each of rec's files; an
// error reading a Spool is returned.
func writeFileHashes(b *bufio.Writer, rec Record, hist *History, el string) error {
	for f, err := range rec.files() {
		if err != nil {
			return err
		}
		if f.Action == "" {
			f.Action = hist.action(f.Path, rec.Alg, f.Hash)
		}
		if f.HashDate.IsZero() {
			f.HashDate = rec.Start
		}
		b.WriteString("    <hash>\n")
		fmt.Fprintf(b, "      <path size=\"%d\"", f.Size)
		if !f.ModTime.IsZero() {
			fmt.Fprintf(b, " lastmodificationdate=\"%s\"", xmlTime(f.ModTime))
		}
		fmt.Fprintf(b, ">%s</path>\n", xmlText(f.Path))
		fmt.Fprintf(b, "      <%s action=\"%s\" hashdate=\"%s\">%s</%[1]s>\n", el, f.Action, xmlTime(f.HashDate), strings.ToLower(f.Hash))
		b.WriteString("    </hash>\n")
	}
	return nil
}

// writeDirHashes writes the directoryhash element of each directory the
// history n records but its root, in path order, as top's directory
// hashes list them; an error reading them is returned.
func writeDirHashes(b *bufio.Writer, rec Record, el string, n, top *nestedHistory) error {
	for e, err := range top.dirHashes.all() {
		if err != nil {
			return err
		}
		if top.owner(e.Path, false) != n {
			continue
		}
		h := entryDirHash(e)
		b.WriteString("    <directoryhash>\n")
		b.WriteString("      <path")
		if !h.modTime.IsZero() {
			fmt.Fprintf(b, " lastmodificationdate=\"%s\"", xmlTime(h.modTime))
		}
		fmt.Fprintf(b, ">%s</path>\n", xmlText(relTo(n.prefix, e.Path)))
		fmt.Fprintf(b, "      <content>\n        <%s hashdate=\"%s\">%s</%[1]s>\n      </content>\n", el, xmlTime(rec.Start), h.content)
		fmt.Fprintf(b, "      <structure>\n        <%s hashdate=\"%s\">%s</%[1]s>\n      </structure>\n", el, xmlTime(rec.Start), h.structure)
		b.WriteString("    </directoryhash>\n")
	}
	return nil
}
