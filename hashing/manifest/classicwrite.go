package manifest

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cvv-project/cvv/hashing"
)

// classicElement is the classic MHL 1.1 digest element of alg ("" if it
// has none). xxh64 is written big-endian (xxhash64be), never in the
// deprecated little-endian xxhash64 form.
func classicElement(alg hashing.Algorithm) string {
	switch alg {
	case hashing.MD5, hashing.SHA1:
		return alg.String()
	case hashing.XXH64:
		return "xxhash64be"
	case hashing.XXH32:
		return "xxhash"
	}
	return ""
}

// ClassicFileName is the path of the classic MHL file a run started at
// start writes in root: root/<rootname>_<YYYY-MM-DD>_<HHMMSS>.mhl (UTC).
func ClassicFileName(root string, start time.Time) string {
	return filepath.Join(root, rootName(root)+"_"+start.UTC().Format("2006-01-02_150405")+".mhl")
}

// classicDigest is the text of the digest element for a hex digest.
func classicDigest(alg hashing.Algorithm, hexDigest string) string {
	if alg == hashing.XXH32 {
		v, _ := strconv.ParseUint(hexDigest, 16, 32) // checked by Record.check
		return strconv.FormatUint(v, 10)
	}
	return hexDigest
}

// writeClassic writes rec to w as a classic MHL 1.1 file, valid against the
// MHL 1.1 schema. The schema's size is a positive integer: empty files
// cannot be listed and are left out.
// It reads nothing but rec (see Record.withDefaults).
func writeClassic(w io.Writer, rec Record) error {
	el := classicElement(rec.Alg)
	b := bufio.NewWriter(w)
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<hashlist version=\"1.1\">\n")
	b.WriteString("  <creatorinfo>\n")
	fmt.Fprintf(b, "    <username>%s</username>\n", xmlText(rec.User))
	fmt.Fprintf(b, "    <hostname>%s</hostname>\n", xmlText(rec.Host))
	fmt.Fprintf(b, "    <tool>%s %s</tool>\n", ToolName, xmlText(ToolVersion()))
	fmt.Fprintf(b, "    <startdate>%s</startdate>\n", classicTime(rec.Start))
	fmt.Fprintf(b, "    <finishdate>%s</finishdate>\n", classicTime(rec.Finish))
	b.WriteString("  </creatorinfo>\n")
	for f, err := range rec.files() {
		if err != nil {
			return err
		}
		if f.Size == 0 {
			continue
		}
		hashDate := f.HashDate
		if hashDate.IsZero() {
			hashDate = rec.Start
		}
		b.WriteString("  <hash>\n")
		fmt.Fprintf(b, "    <file>%s</file>\n", xmlText(f.Path))
		fmt.Fprintf(b, "    <size>%d</size>\n", f.Size)
		if !f.ModTime.IsZero() {
			fmt.Fprintf(b, "    <lastmodificationdate>%s</lastmodificationdate>\n", classicTime(f.ModTime))
		}
		fmt.Fprintf(b, "    <%s>%s</%[1]s>\n", el, classicDigest(rec.Alg, f.Hash))
		fmt.Fprintf(b, "    <hashdate>%s</hashdate>\n", classicTime(hashDate))
		b.WriteString("  </hash>\n")
	}
	b.WriteString("</hashlist>\n")
	return b.Flush()
}

// classicTime formats t as the xs:dateTime the classic tools write: UTC,
// whole seconds.
func classicTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
