package plan

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultExcludes are the operating-system files that offload tools skip:
// Finder metadata and AppleDouble files, Spotlight and Trash folders, the
// FSEvents log, and the Windows thumbnail cache and folder settings.
var DefaultExcludes = []string{".DS_Store", "._*", ".Spotlight-V100", ".Trashes", ".fseventsd", "Thumbs.db", "desktop.ini"}

// Excludes is a list of gitignore-style patterns, matched against paths
// relative to a walked root. Both walkers of the command line (Walk for a
// copy, and the verify and hash walks) ask Match, so one list means the
// same everywhere:
//
//   - a pattern without a slash matches a name at any depth ("*.tmp",
//     ".DS_Store"); one with a slash is anchored at the root ("/a.mov",
//     "Clip/*.xml"); a trailing slash matches directories only ("cache/");
//   - "*" and "?" match within one path element, "[...]" a character
//     class; "**" matches any number of elements: "**/x", "a/**", "a/**/b";
//   - "!" re-includes what an earlier pattern excluded; "\" escapes the next
//     character;
//   - an excluded directory is skipped with everything below it.
//
// A nil *Excludes excludes nothing.
type Excludes struct {
	patterns []string
	rules    []excludeRule
}

type excludeRule struct {
	re *regexp.Regexp
	// name, when set, is what re says of a path, asked of its last
	// element only: for a pattern without a slash, "**" or a class,
	// which cannot match across a '/'. A walk asks every name of the
	// tree, and re scanned each whole path (9% of a re-run's CPU).
	name    func(string) bool
	dirOnly bool
	negate  bool
}

// matches reports whether rel matches the rule's pattern.
func (r *excludeRule) matches(rel string) bool {
	if r.name != nil {
		return r.name(rel[strings.LastIndexByte(rel, '/')+1:])
	}
	return r.re.MatchString(rel)
}

// NewExcludes compiles patterns; an empty or malformed pattern is an error.
func NewExcludes(patterns []string) (*Excludes, error) {
	x := &Excludes{}
	for _, p := range patterns {
		r, err := compileExclude(p)
		if err != nil {
			return nil, fmt.Errorf("bad exclude pattern %q: %w", p, err)
		}
		x.patterns = append(x.patterns, p)
		x.rules = append(x.rules, r)
	}
	return x, nil
}

// Patterns returns the patterns, in order.
func (x *Excludes) Patterns() []string {
	if x == nil {
		return nil
	}
	return x.patterns
}

// Match reports whether rel (relative to the root, '/' separators) is
// excluded; isDir says whether it is a directory.
func (x *Excludes) Match(rel string, isDir bool) bool {
	if x == nil || rel == "" {
		return false
	}
	excluded := false
	for _, r := range x.rules {
		if (r.dirOnly && !isDir) || excluded != r.negate {
			continue
		}
		if r.matches(rel) {
			excluded = !r.negate
		}
	}
	return excluded
}

// MatchPath reports whether rel, a file, or one of the directories above
// it is excluded: whether a walk would leave it out.
func (x *Excludes) MatchPath(rel string) bool {
	if x == nil {
		return false
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && x.Match(rel[:i], true) {
			return true
		}
	}
	return x.Match(rel, false)
}

func compileExclude(p string) (excludeRule, error) {
	var r excludeRule
	if strings.HasPrefix(p, "!") {
		r.negate, p = true, p[1:]
	}
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(p, `\/`) {
		r.dirOnly, p = true, strings.TrimRight(p, "/")
	}
	if p == "" {
		return r, fmt.Errorf("empty pattern")
	}
	anchored := strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	body, err := globRegexp(p)
	if err != nil {
		return r, err
	}
	prefix := "^"
	if !anchored {
		prefix += "(?:.*/)?"
	}
	re, err := regexp.Compile(prefix + body + "$")
	if err != nil {
		return r, err
	}
	r.re = re
	if !anchored && !strings.ContainsAny(p, "[") && !strings.Contains(p, "**") {
		r.name = nameMatcher(p, body)
	}
	return r, nil
}

// nameMatcher matches one path element against p, a pattern without a
// slash, "**" or a class whose body is its regular expression: by
// comparing strings where p is a literal or a literal followed by one
// "*", by the expression otherwise.
func nameMatcher(p, body string) func(string) bool {
	if !strings.ContainsAny(p, `*?\`) {
		return func(name string) bool { return name == p }
	}
	if i := strings.IndexAny(p, `*?\`); i == len(p)-1 && p[i] == '*' {
		prefix := p[:i]
		return func(name string) bool { return strings.HasPrefix(name, prefix) }
	}
	return regexp.MustCompile("^" + body + "$").MatchString
}

// globRegexp translates the pattern p (without its "!", trailing slash
// and leading slash) into a regular expression, without anchors.
func globRegexp(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case strings.HasPrefix(p[i:], "**/") && (i == 0 || p[i-1] == '/'):
			b.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(p[i:], "**") && i+2 == len(p) && (i == 0 || p[i-1] == '/'):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return "", fmt.Errorf("unterminated [")
			}
			class := p[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		default:
			// A byte of the pattern, not string(c): that would make
			// each byte of a UTF-8 name a character of its own.
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	return b.String(), nil
}
