package manifest

import (
	"encoding/xml"
	"fmt"
	"io"
)

// The hash list scan as it was written with encoding/xml's Decoder, before
// the xmlLexer: what FuzzScanGeneration compares scanGeneration with.

// stdScanGeneration reads one ASC MHL v2 hash list from r token by token and
// hands each file and directory entry to v as it is read: nothing
// proportional to the number of files or directories is held. It returns
// the generation without its Files and Dirs, and its root hash (nil when
// none is recorded). Errors wrap ErrCorrupt, except an error from v,
// which is returned as it is.
func stdScanGeneration(r io.Reader, v scanVisitor) (*Generation, *xmlDirSum, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	var s generationScan
	if err := s.stdRead(d, v); err != nil {
		return nil, nil, err
	}
	if err := checkTrailer(d); err != nil {
		return nil, nil, err
	}
	return s.generation()
}

// read decodes the root element, handing each <hash> to file.
func (s *generationScan) stdRead(d *xml.Decoder, v scanVisitor) error {
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
			return eachChild(d, func(t xml.StartElement) error { return s.stdHashesChild(d, t, v) })
		case "references":
			return d.DecodeElement(&s.references, &t)
		}
		return d.Skip()
	})
}

// hashesChild decodes one element of <hashes>: a file's <hash> or a
// <directoryhash>, handed to v.
func (s *generationScan) stdHashesChild(d *xml.Decoder, t xml.StartElement, v scanVisitor) error {
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
