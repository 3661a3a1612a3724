package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// xmlLexer reads an XML document token by token as encoding/xml's
// Decoder does in Strict mode, without its cost: a generation of a
// million files is a few hundred megabytes of XML, read on every run
// into its destination (the history, the check that the lists already
// record the run) and by cvv verify, and encoding/xml read it at about
// 10 MB/s (a re-run of 200,000 files spent 60% of its CPU there). The
// lexer reads bytes from its own buffer, scans text in runs, allocates
// nothing per token (a token's bytes are valid until the next call) and
// leaves namespaces to its caller. It accepts and rejects what the
// Decoder does: the same checks, ported from encoding/xml (names,
// entities, character ranges, nesting, comments, processing
// instructions, directives, CDATA, line ends), and FuzzXMLLexer compares
// the two. Its errors are xml.SyntaxErrors, as the Decoder's are.
type xmlLexer struct {
	r   io.Reader
	buf []byte
	// buf[pos:end] is not read yet; err is the reader's error once it
	// returned one.
	pos, end int
	err      error
	// line counts the newlines in the bytes dropped from buf.
	line int

	// The current token: the name of a start or end element (prefix and
	// local part, as written), a start element's attributes, and the
	// text of character data (unescaped, line ends normalized).
	prefix, local []byte
	attrs         []lexAttr
	text          []byte
	// textAcc is elementText's buffer.
	textAcc []byte
	// scratch holds the current token's names and attribute values,
	// spans where a start element's attributes are in it.
	scratch []byte
	spans   []span

	// closeNext: the start element just returned was empty (<a/>); its
	// end element comes next.
	closeNext bool
	// open holds the names of the open elements, one after the other;
	// openAt[i] is where the i-th starts.
	open   []byte
	openAt []int

	// capture, when capturing, gets every byte read from capFrom on.
	capturing bool
	capFrom   int
	capture   []byte
}

// lexAttr is an attribute of the current start element.
type lexAttr struct {
	prefix, local, value []byte
}

// lexKind is the kind of a token.
type lexKind uint8

const (
	lexStart lexKind = iota + 1
	lexEnd
	lexText
	lexComment
	lexProcInst
	lexDirective
)

func newXMLLexer(r io.Reader) *xmlLexer {
	return &xmlLexer{r: r, buf: make([]byte, 64<<10)}
}

// getc returns the next byte.
func (l *xmlLexer) getc() (byte, bool) {
	if l.pos < l.end {
		b := l.buf[l.pos]
		l.pos++
		return b, true
	}
	return l.getcSlow()
}

func (l *xmlLexer) getcSlow() (byte, bool) {
	if !l.fill() {
		return 0, false
	}
	b := l.buf[l.pos]
	l.pos++
	return b, true
}

// ungetc puts back the byte getc returned last.
func (l *xmlLexer) ungetc() { l.pos-- }

// fill reads more into buf once everything in it was read; it reports
// whether there is a byte to read.
func (l *xmlLexer) fill() bool {
	if l.pos < l.end {
		return true
	}
	if l.err != nil {
		return false
	}
	if l.capturing {
		l.capture = append(l.capture, l.buf[l.capFrom:l.pos]...)
		l.capFrom = 0
	}
	l.line += bytes.Count(l.buf[:l.pos], []byte{'\n'})
	l.pos, l.end = 0, 0
	for l.end == 0 && l.err == nil {
		l.end, l.err = l.r.Read(l.buf)
	}
	return l.end > 0
}

// mustgetc is getc where the document cannot end.
func (l *xmlLexer) mustgetc() (byte, error) {
	if b, ok := l.getc(); ok {
		return b, nil
	}
	return 0, l.eofError()
}

// eofError is the error of a document that ends too early, or the
// reader's error.
func (l *xmlLexer) eofError() error {
	if l.err == io.EOF {
		return l.syntaxError("unexpected EOF")
	}
	return l.err
}

func (l *xmlLexer) syntaxError(msg string) error {
	return &xml.SyntaxError{Msg: msg, Line: 1 + l.line + bytes.Count(l.buf[:l.pos], []byte{'\n'})}
}

// space skips white space.
func (l *xmlLexer) space() {
	for {
		b, ok := l.getc()
		if !ok {
			return
		}
		switch b {
		case ' ', '\r', '\n', '\t':
		default:
			l.ungetc()
			return
		}
	}
}

// startCapture makes capture collect the element whose start was read
// last, to its end: its start written out again (attribute values
// escaped), then every byte read, until endCapture stops it and returns
// them.
func (l *xmlLexer) startCapture() {
	c := append(l.capture[:0], '<')
	c = appendQName(c, l.prefix, l.local)
	for _, a := range l.attrs {
		c = append(c, ' ')
		c = appendQName(c, a.prefix, a.local)
		c = append(c, '=', '"')
		var b bytes.Buffer
		_ = xml.EscapeText(&b, a.value)
		c = append(c, b.Bytes()...)
		c = append(c, '"')
	}
	if l.closeNext {
		c = append(c, '/')
	}
	l.capture = append(c, '>')
	l.capturing, l.capFrom = true, l.pos
}

func appendQName(c, prefix, local []byte) []byte {
	if len(prefix) > 0 {
		c = append(append(c, prefix...), ':')
	}
	return append(c, local...)
}

func (l *xmlLexer) endCapture() []byte {
	l.capture = append(l.capture, l.buf[l.capFrom:l.pos]...)
	l.capturing = false
	return l.capture
}

// next reads the next token. At the end of the document it returns
// io.EOF, or a syntax error if an element is still open.
func (l *xmlLexer) next() (lexKind, error) {
	if l.closeNext {
		l.closeNext = false
		return lexEnd, l.popElement()
	}
	b, ok := l.getc()
	if !ok {
		if l.err == io.EOF && len(l.openAt) > 0 {
			return 0, l.syntaxError("unexpected EOF")
		}
		return 0, l.err
	}
	if b != '<' {
		l.ungetc()
		if err := l.readText(-1, false); err != nil {
			return 0, err
		}
		return lexText, nil
	}
	b, err := l.mustgetc()
	if err != nil {
		return 0, err
	}
	switch b {
	case '/':
		l.scratch = l.scratch[:0]
		if err := l.nsname(&l.prefix, &l.local); err != nil {
			return 0, l.orError(err, "expected element name after </")
		}
		l.space()
		if b, err = l.mustgetc(); err != nil {
			return 0, err
		}
		if b != '>' {
			return 0, l.syntaxError("invalid characters between </" + string(l.local) + " and >")
		}
		return lexEnd, l.popElement()
	case '?':
		return lexProcInst, l.procInst()
	case '!':
		return l.bang()
	}
	l.ungetc()
	return lexStart, l.startElement()
}

// errNoName: no name where one was expected.
var errNoName = errors.New("no name")

// orError returns err, or a syntax error saying msg if err is errNoName.
func (l *xmlLexer) orError(err error, msg string) error {
	if err == errNoName {
		return l.syntaxError(msg)
	}
	return err
}

// span is where a name or value of the current token is in scratch:
// scratch[from:to].
type span struct{ from, to int }

// nameSpans reads a name into scratch as nsname does and returns where
// its prefix and local part are.
func (l *xmlLexer) nameSpans() (prefix, local span, err error) {
	from := len(l.scratch)
	var p, lp []byte
	if err := l.nsname(&p, &lp); err != nil {
		return span{}, span{}, err
	}
	end := len(l.scratch)
	return span{from, from + len(p)}, span{end - len(lp), end}, nil
}

// startElement reads a start element after its '<'. Names and values
// go to scratch, which may move as it grows: their places are kept as
// spans until the element is read.
func (l *xmlLexer) startElement() error {
	l.scratch = l.scratch[:0]
	l.attrs = l.attrs[:0]
	l.spans = l.spans[:0]
	np, nl, err := l.nameSpans()
	if err != nil {
		return l.orError(err, "expected element name after <")
	}
	empty := false
	for {
		l.space()
		b, err := l.mustgetc()
		if err != nil {
			return err
		}
		if b == '/' {
			if b, err = l.mustgetc(); err != nil {
				return err
			}
			if b != '>' {
				return l.syntaxError("expected /> in element")
			}
			empty = true
			break
		}
		if b == '>' {
			break
		}
		l.ungetc()
		ap, al, err := l.nameSpans()
		if err != nil {
			return l.orError(err, "expected attribute name in element")
		}
		if err := l.attrValue(); err != nil {
			return err
		}
		from := len(l.scratch)
		l.scratch = append(l.scratch, l.text...)
		l.spans = append(l.spans, ap, al, span{from, len(l.scratch)})
	}
	at := func(s span) []byte { return l.scratch[s.from:s.to:s.to] }
	l.prefix, l.local = at(np), at(nl)
	for i := 0; i < len(l.spans); i += 3 {
		l.attrs = append(l.attrs, lexAttr{at(l.spans[i]), at(l.spans[i+1]), at(l.spans[i+2])})
	}
	l.pushElement()
	l.closeNext = empty
	return nil
}

// attrValue reads "= value" after an attribute's name into text.
func (l *xmlLexer) attrValue() error {
	l.space()
	b, err := l.mustgetc()
	if err != nil {
		return err
	}
	if b != '=' {
		return l.syntaxError("attribute name without = in element")
	}
	l.space()
	if b, err = l.mustgetc(); err != nil {
		return err
	}
	if b != '"' && b != '\'' {
		return l.syntaxError("unquoted or missing attribute value in element")
	}
	return l.readText(int(b), false)
}

// pushElement records the current element as open.
func (l *xmlLexer) pushElement() {
	l.openAt = append(l.openAt, len(l.open))
	l.open = append(l.open, l.prefix...)
	l.open = append(l.open, ':')
	l.open = append(l.open, l.local...)
}

// popElement closes the innermost open element, which must be the
// current one.
func (l *xmlLexer) popElement() error {
	n := len(l.openAt)
	if n == 0 {
		return l.syntaxError("unexpected end element </" + string(l.local) + ">")
	}
	top := l.open[l.openAt[n-1]:]
	prefix, local, _ := bytes.Cut(top, []byte{':'})
	switch {
	case !bytes.Equal(local, l.local):
		return l.syntaxError("element <" + string(local) + "> closed by </" + string(l.local) + ">")
	case !bytes.Equal(prefix, l.prefix):
		ns := string(l.prefix)
		if ns == "" {
			ns = `""`
		}
		return l.syntaxError("element <" + string(local) + "> in space " + string(prefix) + " closed by </" + string(l.local) + "> in space " + ns)
	}
	l.open = l.open[:l.openAt[n-1]]
	l.openAt = l.openAt[:n-1]
	return nil
}

// depth is the number of open elements.
func (l *xmlLexer) depth() int { return len(l.openAt) }

// nsname reads a name into scratch and splits it as encoding/xml does:
// at its colon, unless either side is empty; more than one colon is no
// name. It returns errNoName where there is no name.
func (l *xmlLexer) nsname(prefix, local *[]byte) error {
	from := len(l.scratch)
	if err := l.name(); err != nil {
		return err
	}
	s := l.scratch[from:]
	switch bytes.Count(s, []byte{':'}) {
	case 0:
		*prefix, *local = s[:0], s
		return nil
	case 1:
		p, lp, _ := bytes.Cut(s, []byte{':'})
		if len(p) == 0 || len(lp) == 0 {
			*prefix, *local = s[:0], s
		} else {
			*prefix, *local = p, lp
		}
		return nil
	}
	return errNoName
}

// name reads a name and appends it to scratch.
func (l *xmlLexer) name() error {
	from := len(l.scratch)
	for {
		b, ok := l.getc()
		if !ok {
			return l.eofError()
		}
		if b < utf8.RuneSelf && !isNameByte(b) {
			l.ungetc()
			break
		}
		l.scratch = append(l.scratch, b)
	}
	s := l.scratch[from:]
	if len(s) == 0 {
		return errNoName
	}
	if !isXMLName(s) {
		return l.syntaxError("invalid XML name: " + string(s))
	}
	return nil
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

// isXMLName is encoding/xml's name check: of an ASCII name here, of
// any other by the Decoder itself, whose tables of name characters are
// not exported (names in hash lists are ASCII).
func isXMLName(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		c := s[0]
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
	}
	d := xml.NewDecoder(strings.NewReader("<" + string(s) + "/>"))
	_, err := d.RawToken()
	return err == nil
}

// plainText marks the bytes readText copies as they are: not '<', '&',
// '\r', ']', '>' (for "]]>") or a quote.
var plainText = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range []byte("<&\r]>\"'") {
		t[c] = false
	}
	return
}()

// readText reads character data into text, as encoding/xml's
// Decoder.text: up to a '<' (not read) for quote < 0, else up to the
// quote (read); cdata: up to "]]>" (read).
func (l *xmlLexer) readText(quote int, cdata bool) error {
	l.text = l.text[:0]
	var b0, b1 byte
	trunc := 0
	for {
		// A run of bytes copied as they are (not right after a '\r':
		// "\r\n" is one line end).
		run := l.buf[l.pos:l.end]
		n := 0
		for b1 != '\r' && n < len(run) && plainText[run[n]] {
			n++
		}
		if n > 0 {
			l.text = append(l.text, run[:n]...)
			l.pos += n
			if n >= 2 {
				b0, b1 = run[n-2], run[n-1]
			} else {
				b0, b1 = b1, run[0]
			}
		}
		b, ok := l.getc()
		if !ok {
			if cdata {
				if l.err == io.EOF {
					return l.syntaxError("unexpected EOF in CDATA section")
				}
				return l.err
			}
			if l.err != io.EOF {
				return l.err
			}
			break
		}
		if quote < 0 && b0 == ']' && b1 == ']' && b == '>' {
			if cdata {
				trunc = 2
				break
			}
			return l.syntaxError("unescaped ]]> not in CDATA section")
		}
		if b == '<' && !cdata {
			if quote >= 0 {
				return l.syntaxError("unescaped < inside quoted string")
			}
			l.ungetc()
			break
		}
		if quote >= 0 && b == byte(quote) {
			break
		}
		if b == '&' && !cdata {
			if err := l.entity(); err != nil {
				return err
			}
			b0, b1 = 0, 0
			continue
		}
		switch {
		case b == '\r':
			l.text = append(l.text, '\n')
		case b1 == '\r' && b == '\n':
		default:
			l.text = append(l.text, b)
		}
		b0, b1 = b1, b
	}
	l.text = l.text[:len(l.text)-trunc]
	return checkXMLChars(l.text, l.syntaxError)
}

// entity reads a character or entity reference after its '&' and
// appends what it stands for to text.
func (l *xmlLexer) entity() error {
	before := len(l.text)
	l.text = append(l.text, '&')
	b, err := l.mustgetc()
	if err != nil {
		return err
	}
	var text string
	var haveText bool
	if b == '#' {
		l.text = append(l.text, b)
		text, haveText, err = l.charRef()
	} else {
		l.ungetc()
		text, haveText, err = l.entityRef(before)
	}
	if err != nil {
		return err
	}
	if haveText {
		l.text = append(l.text[:before], text...)
		return nil
	}
	ent := string(l.text[before:])
	if ent[len(ent)-1] != ';' {
		ent += " (no semicolon)"
	}
	return l.syntaxError("invalid character entity " + ent)
}

// charRef reads a character reference after its "&#", appended to text
// as read, and returns the character (ok false if it is none).
func (l *xmlLexer) charRef() (text string, ok bool, err error) {
	b, err := l.mustgetc()
	if err != nil {
		return "", false, err
	}
	base := 10
	if b == 'x' {
		base = 16
		l.text = append(l.text, b)
		if b, err = l.mustgetc(); err != nil {
			return "", false, err
		}
	}
	start := len(l.text)
	for '0' <= b && b <= '9' || base == 16 && ('a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
		l.text = append(l.text, b)
		if b, err = l.mustgetc(); err != nil {
			return "", false, err
		}
	}
	l.ungetc()
	s := string(l.text[start:])
	if semi, err := l.semicolon(); !semi || err != nil {
		return "", false, err
	}
	if n, err := strconv.ParseUint(s, base, 64); err == nil && n <= unicode.MaxRune {
		return string(rune(n)), true, nil
	}
	return "", false, nil
}

// semicolon reads the ';' that ends a reference, appended to text, and
// reports whether it was there (if not, the byte read is put back).
func (l *xmlLexer) semicolon() (bool, error) {
	b, err := l.mustgetc()
	if err != nil || b != ';' {
		if err == nil {
			l.ungetc()
		}
		return false, err
	}
	l.text = append(l.text, ';')
	return true, nil
}

// entityRef reads an entity reference after its '&' (text[before]),
// appended to text as read, and returns what it stands for: one of the
// five XML predefines (ok false for any other).
func (l *xmlLexer) entityRef(before int) (text string, ok bool, err error) {
	// A name, read as encoding/xml's readName does: without checking it.
	var b byte
	for {
		if b, err = l.mustgetc(); err != nil {
			return "", false, err
		}
		if b < utf8.RuneSelf && !isNameByte(b) {
			l.ungetc()
			break
		}
		l.text = append(l.text, b)
	}
	name := l.text[before+1:]
	if semi, err := l.semicolon(); !semi || err != nil {
		return "", false, err
	}
	if len(name) == 0 || !isXMLName(name) {
		return "", false, nil
	}
	switch string(name) {
	case "lt":
		return "<", true, nil
	case "gt":
		return ">", true, nil
	case "amp":
		return "&", true, nil
	case "apos":
		return "'", true, nil
	case "quot":
		return `"`, true, nil
	}
	return "", false, nil
}

// checkXMLChars reports invalid UTF-8 or a character XML does not allow
// in s, as encoding/xml does.
func checkXMLChars(s []byte, syntaxError func(string) error) error {
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return syntaxError(fmt.Sprintf("illegal character code %U", rune(c)))
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			return syntaxError("invalid UTF-8")
		}
		s = s[size:]
		if !isInCharacterRange(r) {
			return syntaxError(fmt.Sprintf("illegal character code %U", r))
		}
	}
	return nil
}

func isInCharacterRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// procInst reads a processing instruction after its "<?"; that of the
// XML declaration must declare version 1.0 (or none) and UTF-8 (or no
// encoding).
func (l *xmlLexer) procInst() error {
	l.scratch = l.scratch[:0]
	if err := l.name(); err != nil {
		return l.orError(err, "expected target name after <?")
	}
	target := string(l.scratch)
	l.space()
	l.text = l.text[:0]
	var b0 byte
	for {
		b, err := l.mustgetc()
		if err != nil {
			return err
		}
		l.text = append(l.text, b)
		if b0 == '?' && b == '>' {
			break
		}
		b0 = b
	}
	l.text = l.text[:len(l.text)-2]
	if target != "xml" {
		return nil
	}
	content := string(l.text)
	if ver := procInstParam("version", content); ver != "" && ver != "1.0" {
		return fmt.Errorf("xml: unsupported version %q; only version 1.0 is supported", ver)
	}
	if enc := procInstParam("encoding", content); enc != "" && !strings.EqualFold(enc, "utf-8") {
		return fmt.Errorf("xml: encoding %q declared but Decoder.CharsetReader is nil", enc)
	}
	return nil
}

// procInstParam is encoding/xml's procInst: the value of param in the
// content of a processing instruction.
func procInstParam(param, s string) string {
	param += "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}

// bang reads what follows "<!": a comment, a CDATA section (character
// data) or a directive.
func (l *xmlLexer) bang() (lexKind, error) {
	b, err := l.mustgetc()
	if err != nil {
		return 0, err
	}
	switch b {
	case '-':
		if b, err = l.mustgetc(); err != nil {
			return 0, err
		}
		if b != '-' {
			return 0, l.syntaxError("invalid sequence <!- not part of <!--")
		}
		var b0, b1 byte
		for {
			if b, err = l.mustgetc(); err != nil {
				return 0, err
			}
			if b0 == '-' && b1 == '-' {
				if b != '>' {
					return 0, l.syntaxError(`invalid sequence "--" not allowed in comments`)
				}
				return lexComment, nil
			}
			b0, b1 = b1, b
		}
	case '[':
		for i := range 6 {
			if b, err = l.mustgetc(); err != nil {
				return 0, err
			}
			if b != "CDATA["[i] {
				return 0, l.syntaxError("invalid <![ sequence")
			}
		}
		return lexText, l.readText(-1, true)
	}
	return lexDirective, l.directive(b)
}

// directive reads a directive (<!DOCTYPE ...>) after "<!" and its first
// byte b, as encoding/xml does: up to the '>' outside quotes at depth 0,
// comments inside skipped.
func (l *xmlLexer) directive(b byte) error {
	var inquote byte
	depth := 0
	var err error
	for {
		if b, err = l.mustgetc(); err != nil {
			return err
		}
		if inquote == 0 && b == '>' && depth == 0 {
			return nil
		}
	handle:
		switch {
		case b == inquote:
			inquote = 0
		case inquote != 0:
		case b == '\'' || b == '"':
			inquote = b
		case b == '>':
			depth--
		case b == '<':
			for i := range 3 {
				if b, err = l.mustgetc(); err != nil {
					return err
				}
				if b != "!--"[i] {
					depth++
					goto handle
				}
			}
			var b0, b1 byte
			for {
				if b, err = l.mustgetc(); err != nil {
					return err
				}
				if b0 == '-' && b1 == '-' && b == '>' {
					break
				}
				b0, b1 = b1, b
			}
		}
	}
}

// skip reads up to the end of the element whose start was read last.
func (l *xmlLexer) skip() error {
	depth := l.depth()
	for {
		k, err := l.next()
		if err != nil {
			return err
		}
		if k == lexEnd && l.depth() < depth {
			return nil
		}
	}
}
