package redis

import "testing"

func TestSlot(t *testing.T) {
	t.Parallel()
	// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
	tests := map[string]int{
		"123456789":        12739,
		"foo":              12182,
		"{user1000}.a":     slot("user1000"),
		"rotor:t:{p|news}": slot("p|news"),
		"{}x":              slot("{}x"),
	}
	for key, want := range tests {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}
