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
func scanGeneration(r io.Reader, v scanVisitor) (*Generation, *xmlDirSum, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var s generationScan
	if err := s.read(d, v); err != nil {
		return nil, nil, err
	}
	if err := checkTrailer(d); err != nil {
		return nil, nil, err
	}
	return s.generation()
}

// errFromFile marks an error the caller's file function returned.
type errFromFile struct{ err error }

func (e errFromFile) Error() string { return e.err.Error() }
func (e errFromFile) Unwrap() error { return e.err }

// read decodes the root element, handing each <hash> to file.
func (s *generationScan) read(d *xml.Decoder, v scanVisitor) error {
	root, err := rootElement(d)
	if err != nil {
		return err
	}
	if root.Name.Space != mhlNamespace || root.Name.Local != "hashlist" {
		return fmt.Errorf("%w: expected element <hashlist> in name space %s but have <%s> in %q", ErrCorrupt, mhlNamespace, root.Name.Local, root.Name.Space)
	}
	for _, a := range root.Attr {
		if a.Name.Local == "version" && a.Name.Space == "" {
			s.version = a.Value
		}
	}
	if s.version != "2.0" {
		return fmt.Errorf("%w: hashlist version %q, want 2.0", ErrCorrupt, s.version)
	}
	return eachChild(d, func(t xml.StartElement) error {
		switch t.Name.Local {
		case "creatorinfo":
			if s.creator == nil {
				s.creator = &xmlCreator{}
			}
			return d.DecodeElement(s.creator, &t)
		case "processinfo":
			if s.process == nil {
				s.process = &xmlProcess{}
			}
			return d.DecodeElement(s.process, &t)
		case "hashes":
			return eachChild(d, func(t xml.StartElement) error { return s.hashesChild(d, t, v) })
		case "references":
			return d.DecodeElement(&s.references, &t)
		}
		return d.Skip()
	})
}

// hashesChild decodes one element of <hashes>: a file's <hash> or a
// <directoryhash>, handed to v.
func (s *generationScan) hashesChild(d *xml.Decoder, t xml.StartElement, v scanVisitor) error {
	switch t.Name.Local {
	case "hash":
		var xh xmlHash
		if err := d.DecodeElement(&xh, &t); err != nil {
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
			return d.Skip()
		}
		var dh xmlDirHash
		if err := d.DecodeElement(&dh, &t); err != nil {
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
	return d.Skip()
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
