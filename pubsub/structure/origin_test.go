package structure

import "testing"

func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		o  string
		ok bool
	}{
		{"*", true},
		{"https://app.example.com", true},
		{"http://127.0.0.1:8080", true},
		{"https://app.example.com/", true},
		{"http://[::1]:3000", true},
		{"null", false},
		{"", false},
		{"app.example.com", false},
		{"ftp://app.example.com", false},
		{"https://app.example.com/path", false},
		{"https://app.example.com?x=1", false},
		{"https://app.example.com#top", false},
		{"https://user@app.example.com", false},
		{"https://", false},
		{"*.example.com", false},
	}
	for _, c := range cases {
		if err := CheckOrigin(c.o); (err == nil) != c.ok {
			t.Errorf("CheckOrigin(%q) = %v, want ok=%v", c.o, err, c.ok)
		}
	}
}

func TestOriginListed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		allowed []string
		origin  string
		want    bool
	}{
		{[]string{"https://app.example.com"}, "https://app.example.com", true},
		{[]string{"https://App.Example.com/"}, "https://app.example.com", true},
		{[]string{"https://app.example.com"}, "http://app.example.com", false},
		{[]string{"https://app.example.com"}, "https://app.example.com:8443", false},
		{[]string{"*"}, "https://app.example.com", false},
		{[]string{"*"}, "*", false},
		{nil, "https://app.example.com", false},
	}
	for _, c := range cases {
		if got := OriginListed(c.allowed, c.origin); got != c.want {
			t.Errorf("OriginListed(%q, %q) = %v, want %v", c.allowed, c.origin, got, c.want)
		}
	}
}
