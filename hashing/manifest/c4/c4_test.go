package c4

import (
	"crypto/sha512"
	"errors"
	"strings"
	"testing"
)

// Published C4 test vectors: the ID of each NATO word (the test vectors of
// the C4 reference implementations, github.com/Avalanche-io/c4), of the
// empty input, and of two fixed digests.
var vectors = []struct{ in, id string }{
	{"alfa", "c43zYcLni5LF9rR4Lg4B8h3Jp8SBwjcnyyeh4bc6gTPHndKuKdjUWx1kJPYhZxYt3zV6tQXpDs2shPsPYjgG81wZM1"},
	{"bravo", "c42jd8KUQG9DKppN1qt5aWS3PAmdPmNutXyVTb8H123FcuU3shPxpUXsVdcouSALZ4PaDvMYzQSMYCWkb6rop9zhDa"},
	{"charlie", "c44erLietE8C1iKmQ3y4ENqA9g82Exdkoxox3KEHops2ux5MTsuMjfbFRvUPsPdi9Pxc3C2MRvLxWT8eFw5XKbRQGw"},
	{"delta", "c42Sv2Wi2Qo8AKbJKnUP6YTSdz8pt9aDaf2Ltx44HF1UDdXANM8Ltk6qEzpncvmVbw6FZxgBumw9Eo2jtGyaQ5gDSC"},
	{"echo", "c41bviGCyTM2stoMYVTVKgBkfC6SitoLRFinp77BcmN9awdaeC9cxPy4zyFQBhmTvRzChawbECK1KBRnw3KnagA5be"},
	{"foxtrot", "c427CsZdfUAHyQBS3hxDFrL9NqgKeRuKkuSkxuYTm26XG7AKAWCjViDuMhHaMmQBkvuHnsxojetbQU1DdxHjzyQw8r"},
	{"golf", "c41yLiwAPdsjiBAAw8AFwQGG3cAWnNbDio21NtHE8yD1Fh5irRE4FsccZvm1WdJ4FNHtR1kt5kev7wERsgYomaQbfs"},
	{"hotel", "c44nNyaFuVbt5MCfo2PYWHpwMkBpYTbt14C6TuoLCYH5RLvAFLngER3nqHfXC2GuttcoDxGBi3pY1j3pUF2W3rZD8N"},
	{"india", "c41nJ6CvPN7m7UkUA3oS2yjXYNSZ7WayxEQXWPae6wFkWwW8WChQWTu61bSeuCERu78BDK1LUEny1qHZnye3oU7DtY"},
	{"", "c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT"},
	{"hello, world!", "c43AQnB9bDGEwZSsxT1HwhHrCYXDoTrr4hmAJypFwxhTVngqUhVJwQtmJpcmb4Mq9Y6249ZzqNtWRZ8CE2gGSPRc6F"},
}

func TestPublishedVectors(t *testing.T) {
	for _, v := range vectors {
		if got := Sum([]byte(v.in)); got != v.id {
			t.Errorf("Sum(%q) = %s, want %s", v.in, got, v.id)
		}
		got, err := Identify(strings.NewReader(v.in))
		if err != nil || got != v.id {
			t.Errorf("Identify(%q) = %s, %v", v.in, got, err)
		}
		d, err := Parse(v.id)
		if err != nil || d != sha512.Sum512([]byte(v.in)) {
			t.Errorf("Parse(%s) = %x, %v", v.id, d, err)
		}
	}
}

func TestDigestVectors(t *testing.T) {
	var d [64]byte
	d[63] = 58
	if got, want := FromDigest(d), "c4"+strings.Repeat("1", 86)+"21"; got != want {
		t.Errorf("FromDigest(0...58) = %s, want %s", got, want)
	}
	for i := range d {
		d[i] = 0xff
	}
	if got, want := FromDigest(d), "c467rpwLCuS5DGA8KGZXKsVQ7dnPb9goRLoKfgGbLfQg9WoLUgNY77E2jT11fem3coV9nAkguBACzrU1iyZM4B8roQ"; got != want {
		t.Errorf("FromDigest(all 0xff) = %s, want %s", got, want)
	}
	var zero [64]byte
	if got := FromDigest(zero); got != "c4"+strings.Repeat("1", 88) || len(got) != Len {
		t.Errorf("FromDigest(zero) = %s", got)
	}
}

func TestParseRejects(t *testing.T) {
	good := vectors[0].id
	for _, bad := range []string{
		"", good[:89], good + "1", "c5" + good[2:], good[:10] + "0" + good[11:], good[:10] + "l" + good[11:],
		"c4" + strings.Repeat("z", 88), // larger than 2^512
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v, want ErrInvalid", bad, err)
		}
	}
}
