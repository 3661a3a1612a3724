// Package c4 computes C4 IDs (SMPTE ST 2114:2017): the SHA-512 digest of
// the data, written as a 90-character base58 string with the prefix "c4".
// ASC MHL v2 uses them to chain the generations of a history.
//
// This package only encodes; it never reads files by itself.
package c4

import (
	"crypto/sha512"
	"errors"
	"io"
	"math/big"
	"strings"
)

// alphabet is the C4 base58 alphabet: no 0, O, I or l.
const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// Len is the length of every C4 ID.
const Len = 90

// ErrInvalid is returned by Parse for a string that is not a C4 ID.
var ErrInvalid = errors.New("not a C4 ID")

// FromDigest returns the C4 ID of a SHA-512 digest.
func FromDigest(d [sha512.Size]byte) string {
	n := new(big.Int).SetBytes(d[:])
	base := big.NewInt(58)
	mod := new(big.Int)
	out := make([]byte, Len)
	for i := Len - 1; i >= 2; i-- {
		n.QuoRem(n, base, mod)
		out[i] = alphabet[mod.Int64()]
	}
	out[0], out[1] = 'c', '4'
	return string(out)
}

// Sum returns the C4 ID of data.
func Sum(data []byte) string {
	return FromDigest(sha512.Sum512(data))
}

// Identify returns the C4 ID of everything r yields.
func Identify(r io.Reader) (string, error) {
	h := sha512.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	var d [sha512.Size]byte
	h.Sum(d[:0])
	return FromDigest(d), nil
}

// Parse returns the SHA-512 digest that the C4 ID id encodes.
func Parse(id string) ([sha512.Size]byte, error) {
	var d [sha512.Size]byte
	if len(id) != Len || id[:2] != "c4" {
		return d, ErrInvalid
	}
	n := new(big.Int)
	base := big.NewInt(58)
	for i := 2; i < Len; i++ {
		v := strings.IndexByte(alphabet, id[i])
		if v < 0 {
			return d, ErrInvalid
		}
		n.Mul(n, base)
		n.Add(n, big.NewInt(int64(v)))
	}
	if n.BitLen() > 8*sha512.Size {
		return d, ErrInvalid
	}
	n.FillBytes(d[:])
	return d, nil
}
