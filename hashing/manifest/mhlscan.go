package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xmlCreator is a generation's <creatorinfo>.
type xmlCreator struct {
	CreationDate string `xml:"creationdate"`
	Hostname     string `xml:"hostname"`
	Tool         struct {
		Name    string `xml:",chardata"`
		Version string `xml:"version,attr"`
	} `xml:"tool"`
}

// xmlProcess is a generation's <processinfo>.
type xmlProcess struct {
	Process  string     `xml:"process"`
	RootHash *xmlDirSum `xml:"roothash"`
	Ignore   []string   `xml:"ignore>pattern"`
}

// xmlDirHash is one <directoryhash>.
type xmlDirHash struct {
	Path *xmlPath `xml:"path"`
	xmlDirSum
}

// xmlReferences is a generation's <references>.
type xmlReferences struct {
	Lists []struct {
		Path string `xml:"path"`
		C4   string `xml:"c4"`
	} `xml:"hashlistreference"`
}

// generationScan is what a pass over one ASC MHL v2 hash list gathers
// besides its file and directory entries: everything a Generation holds
// but Files and Dirs, and the root hash.
type generationScan struct {
	version    string
	creator    *xmlCreator
	process    *xmlProcess
	references xmlReferences

	// hash and path are what decodeHash decodes into.
	hash xmlHash
	path xmlPath
}

// scanVisitor is what scanGeneration hands the entries of a hash list
// to, as they are read.
type scanVisitor struct {
	// file is called with each file entry, in file order.
	file func(Entry) error
	// dir is called with each directory hash (not the root's, checked:
	// its path clean, its digests hex of the right length), in file
	// order; nil skips them.
	dir func(p string, sum *xmlDirSum) error
}

// scanGeneration reads one ASC MHL v2 hash list from r token by token and
// hands each file and directory entry to v as it is read: nothing
// proportional to the number of files or directories is held. It returns
// the generation without its Files and Dirs, and its root hash (nil when
// none is recorded). Errors wrap ErrCorrupt, except an error from v,
// which is returned as it is.
//
// The document is read with an xmlLexer, which accepts what encoding/xml's
// Decoder in Strict mode accepts, and each file's <hash> is decoded by
// hand (decodeHash) as Decoder.DecodeElement would into an xmlHash: a
// hash list is mostly <hash> elements, and the Decoder read them at about
// 10 MB/s. The elements read once per generation (creatorinfo,
// processinfo, references) and the directory hashes are read by the
// Decoder, from their bytes as the lexer read them (decodeCaptured).
func scanGeneration(r io.Reader, v scanVisitor) (*Generation, *xmlDirSum, error) {
	l := newXMLLexer(r)
	var s generationScan
	if err := s.read(l, v); err != nil {
		return nil, nil, err
	}
	if err := lexTrailer(l); err != nil {
		return nil, nil, err
	}
	return s.generation()
}

// errFromFile marks an error the caller's file function returned.
type errFromFile struct{ err error }

func (e errFromFile) Error() string { return e.err.Error() }
func (e errFromFile) Unwrap() error { return e.err }

// read reads the root element, handing each <hash> to v.
func (s *generationScan) read(l *xmlLexer, v scanVisitor) error {
	if err := lexRoot(l); err != nil {
		return err
	}
	if space := l.rootSpace(l.prefix, true); space != mhlNamespace || string(l.local) != "hashlist" {
		return fmt.Errorf("%w: expected element <hashlist> in name space %s but have <%s> in %q", ErrCorrupt, mhlNamespace, l.local, space)
	}
	for _, a := range l.attrs {
		if string(a.local) == "version" && l.rootSpace(a.prefix, false) == "" {
			s.version = string(a.value)
		}
	}
	if s.version != "2.0" {
		return fmt.Errorf("%w: hashlist version %q, want 2.0", ErrCorrupt, s.version)
	}
	return lexEachChild(l, func() error {
		switch string(l.local) {
		case "creatorinfo":
			if s.creator == nil {
				s.creator = &xmlCreator{}
			}
			return l.decodeCaptured(s.creator)
		case "processinfo":
			if s.process == nil {
				s.process = &xmlProcess{}
			}
			return l.decodeCaptured(s.process)
		case "hashes":
			return lexEachChild(l, func() error { return s.hashesChild(l, v) })
		case "references":
			return l.decodeCaptured(&s.references)
		}
		return l.skip()
	})
}

// hashesChild reads one element of <hashes>, whose start was read last:
// a file's <hash> or a <directoryhash>, handed to v.
func (s *generationScan) hashesChild(l *xmlLexer, v scanVisitor) error {
	switch string(l.local) {
	case "hash":
		xh, err := s.decodeHash(l)
		if err != nil {
			return err
		}
		e, err := xh.entry()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if err := v.file(e); err != nil {
			return errFromFile{err}
		}
		return nil
	case "directoryhash":
		if v.dir == nil {
			return l.skip()
		}
		var dh xmlDirHash
		if err := l.decodeCaptured(&dh); err != nil {
			return err
		}
		p, err := dh.checked()
		if err != nil {
			return err
		}
		if err := v.dir(p, &dh.xmlDirSum); err != nil {
			return errFromFile{err}
		}
		return nil
	}
	return l.skip()
}

// decodeHash decodes the <hash> whose start was read last as
// Decoder.DecodeElement decodes it into an xmlHash: each known child
// element (another of the same name decodes into the same value: its
// text replaces the text, its attributes the attributes it has), the
// text directly in it, unknown elements and attributes skipped. The
// xmlHash returned is valid until the next call.
func (s *generationScan) decodeHash(l *xmlLexer) (*xmlHash, error) {
	h := &s.hash
	*h = xmlHash{}
	for {
		k, err := l.next()
		if err != nil {
			return nil, err
		}
		switch k {
		case lexEnd:
			return h, nil
		case lexStart:
		default:
			continue
		}
		if string(l.local) == "path" {
			if h.Path == nil {
				s.path = xmlPath{}
				h.Path = &s.path
			}
			for _, a := range l.attrs {
				switch string(a.local) {
				case "size":
					h.Path.Size = string(a.value)
				case "lastmodificationdate":
					h.Path.LastMod = string(a.value)
				}
			}
			if h.Path.Value, err = l.elementText(); err != nil {
				return nil, err
			}
			continue
		}
		var slot **xmlHashValue
		switch string(l.local) {
		case "c4":
			slot = &h.C4
		case "md5":
			slot = &h.MD5
		case "sha1":
			slot = &h.SHA1
		case "xxh128":
			slot = &h.XXH128
		case "xxh3":
			slot = &h.XXH3
		case "xxh64":
			slot = &h.XXH64
		default:
			if err := l.skip(); err != nil {
				return nil, err
			}
			continue
		}
		if *slot == nil {
			*slot = &xmlHashValue{}
		}
		x := *slot
		for _, a := range l.attrs {
			switch string(a.local) {
			case "action":
				x.Action = hashAction(a.value)
			case "hashdate":
				x.HashDate = string(a.value)
			}
		}
		if x.Value, err = l.elementText(); err != nil {
			return nil, err
		}
	}
}

// hashAction is string(b) without an allocation for the actions ASC MHL
// defines.
func hashAction(b []byte) string {
	for _, a := range []string{"original", "verified", "failed"} {
		if string(b) == a {
			return a
		}
	}
	return string(b)
}

// elementText reads the rest of the element whose start was read last
// and returns the text directly in it (not in its child elements), as
// DecodeElement does for a chardata field.
func (l *xmlLexer) elementText() (string, error) {
	l.textAcc = l.textAcc[:0]
	for {
		k, err := l.next()
		if err != nil {
			return "", err
		}
		switch k {
		case lexText:
			l.textAcc = append(l.textAcc, l.text...)
		case lexStart:
			if err := l.skip(); err != nil {
				return "", err
			}
		case lexEnd:
			return string(l.textAcc), nil
		}
	}
}

// decodeCaptured decodes the element whose start was read last into v
// with encoding/xml, as DecodeElement would have.
func (l *xmlLexer) decodeCaptured(v any) error {
	l.startCapture()
	if err := l.skip(); err != nil {
		l.capturing = false
		return err
	}
	d := xml.NewDecoder(bytes.NewReader(l.endCapture()))
	d.Strict = true
	return d.Decode(v)
}

// rootSpace is the name space of the root element's (element) or an
// attribute's name prefix, as the Decoder translates it, declared by the
// root element's attributes.
func (l *xmlLexer) rootSpace(prefix []byte, element bool) string {
	p := string(prefix)
	switch {
	case p == "xmlns":
		return p
	case p == "" && !element:
		return ""
	case p == "xml":
		return "http://www.w3.org/XML/1998/namespace"
	case p == "" && string(l.local) == "xmlns":
		return ""
	}
	space, declared := "", false
	for _, a := range l.attrs {
		if p != "" && string(a.prefix) == "xmlns" && string(a.local) == p ||
			p == "" && len(a.prefix) == 0 && string(a.local) == "xmlns" {
			space, declared = string(a.value), true
		}
	}
	if declared || p == "" {
		return space
	}
	return p
}

// lexRoot reads up to the root element's start, skipping what precedes
// it.
func lexRoot(l *xmlLexer) error {
	for {
		k, err := l.next()
		if err != nil {
			return corruptXML(err)
		}
		if k == lexStart {
			return nil
		}
	}
}

// lexEachChild calls f after the start of each child element of the
// element whose start was read last, until its end; f must read the
// child to its end. Text between children is ignored.
func lexEachChild(l *xmlLexer, f func() error) error {
	for {
		k, err := l.next()
		if err != nil {
			return corruptXML(err)
		}
		switch k {
		case lexStart:
			if err := f(); err != nil {
				var ff errFromFile
				if errors.As(err, &ff) || errors.Is(err, ErrCorrupt) {
					return err
				}
				return corruptXML(err)
			}
		case lexEnd:
			return nil
		}
	}
}

// lexTrailer reports anything but white space, comments or processing
// instructions after the root element.
func lexTrailer(l *xmlLexer) error {
	for {
		k, err := l.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		switch k {
		case lexText:
			if len(bytes.TrimSpace(l.text)) != 0 {
				return fmt.Errorf("%w: text after the root element", ErrCorrupt)
			}
		case lexComment, lexProcInst:
		default:
			return fmt.Errorf("%w: content after the root element", ErrCorrupt)
		}
	}
}

// checked checks a <directoryhash> and returns its path.
func (d *xmlDirHash) checked() (string, error) {
	if d.Path == nil {
		return "", fmt.Errorf("%w: directoryhash without path", ErrCorrupt)
	}
	p := strings.TrimSuffix(d.Path.Value, "/")
	if err := checkPath(p); err != nil {
		return "", fmt.Errorf("%w: directory: %w", ErrCorrupt, err)
	}
	if err := d.check(); err != nil {
		return "", fmt.Errorf("%w: directory %q: %w", ErrCorrupt, p, err)
	}
	return p, nil
}

// generation checks and converts what read gathered.
func (s *generationScan) generation() (*Generation, *xmlDirSum, error) {
	if s.creator == nil || s.process == nil {
		return nil, nil, fmt.Errorf("%w: hashlist without creatorinfo or processinfo", ErrCorrupt)
	}
	g := &Generation{
		Host:        strings.TrimSpace(s.creator.Hostname),
		Tool:        strings.TrimSpace(s.creator.Tool.Name),
		ToolVersion: s.creator.Tool.Version,
		Process:     strings.TrimSpace(s.process.Process),
		Ignore:      s.process.Ignore,
	}
	var err error
	if g.Created, err = parseXMLTime(s.creator.CreationDate); err != nil {
		return nil, nil, fmt.Errorf("%w: creationdate: %w", ErrCorrupt, err)
	}
	rh := s.process.RootHash
	if rh != nil {
		if err := rh.check(); err != nil {
			return nil, nil, fmt.Errorf("%w: roothash: %w", ErrCorrupt, err)
		}
	}
	for _, r := range s.references.Lists {
		ref := Reference{Path: strings.TrimSpace(r.Path), C4: strings.TrimSpace(r.C4)}
		if err := checkPath(ref.Path); err != nil {
			return nil, nil, fmt.Errorf("%w: hashlistreference: %w", ErrCorrupt, err)
		}
		if ref.C4 == "" {
			// Not parsed further: the ASC sample itself writes shortened IDs.
			return nil, nil, fmt.Errorf("%w: hashlistreference %q without c4", ErrCorrupt, ref.Path)
		}
		g.References = append(g.References, ref)
	}
	return g, rh, nil
}

// rootElement returns the document's root start element, skipping what
// precedes it (the XML declaration, comments, whitespace).
func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, corruptXML(err)
		}
		if t, ok := tok.(xml.StartElement); ok {
			return t, nil
		}
	}
}

// eachChild calls f with each child element of the element whose start
// was read last, until its end; f must consume the child (DecodeElement
// or Skip). Character data between children is ignored.
func eachChild(d *xml.Decoder, f func(xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return corruptXML(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := f(t); err != nil {
				var ff errFromFile
				if errors.As(err, &ff) || errors.Is(err, ErrCorrupt) {
					return err
				}
				return corruptXML(err)
			}
		case xml.EndElement:
			return nil
		}
	}
}

// corruptXML wraps an XML syntax error (or an early end) in ErrCorrupt.
func corruptXML(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// checkTrailer reports anything but whitespace, comments or processing
// instructions after the root element.
func checkTrailer(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("%w: text after the root element", ErrCorrupt)
			}
		case xml.Comment, xml.ProcInst:
		default:
			return fmt.Errorf("%w: content after the root element", ErrCorrupt)
		}
	}
}
