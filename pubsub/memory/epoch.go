package memory

import "crypto/rand"

// epochAlphabet is what an epoch is made of: short, URL- and JSON-safe.
const epochAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// epochLen is an epoch's length: 36^8 ≈ 2.8e12 values, so a channel that
// is recreated practically never gets its old epoch back.
const epochLen = 8

// newEpoch returns a random epoch from crypto/rand. Bytes at or above the
// largest multiple of the alphabet size are drawn again, so every letter is
// equally likely.
func newEpoch() string {
	const limit = 256 - 256%len(epochAlphabet)
	var out [epochLen]byte
	var buf [2 * epochLen]byte
	n := 0
	for n < epochLen {
		rand.Read(buf[:]) // never fails (crypto/rand since Go 1.24)
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out[n] = epochAlphabet[int(b)%len(epochAlphabet)]
			n++
			if n == epochLen {
				break
			}
		}
	}
	return string(out[:])
}
