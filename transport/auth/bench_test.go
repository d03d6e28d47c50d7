package auth

import "testing"

func BenchmarkVerifySession(b *testing.B) {
	s, err := SignSession(testSecret, testSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifySession(testSecret, "demo", s, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyGrant(b *testing.B) {
	s, err := SignGrant(testSecret, testGrant())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyGrant(testSecret, "demo", "c-123", s, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseConnectionToken(b *testing.B) {
	tok, err := MintConnectionToken(testSecret, ConnectionClaims{User: "42", Expires: testNow.Add(1 << 40)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConnectionToken(tok, testSecret, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
