package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// TestAdminChannelsAcrossNodes: two `rotor serve` processes on one real
// Redis, subscribers on each; GET /api/admin/projects/{id}/channels on
// either lists the channels with the subscribers of both summed.
func TestAdminChannelsAcrossNodes(t *testing.T) {
	t.Parallel()
	const adminKey = "e2e-admin-key-channels-0123456789"
	rs := redistest.Start(t)
	a := startServer(t, serverConfig{RedisURL: rs.URL(), AdminAPIKey: adminKey})
	b := startServer(t, serverConfig{RedisURL: rs.URL(), AdminAPIKey: adminKey})

	open := func(s *server, user, channel string) {
		st := openSSE(t, s.client, streamURL(s.base, "sse", user, t, channel), "")
		st.expect(t, "sub")
	}
	open(a, "u1", "lobby")
	open(a, "u2", "lobby")
	open(b, "u3", "lobby")
	open(b, "u4", "side")

	type listing struct {
		Channels []struct {
			Channel string `json:"channel"`
			Clients int    `json:"clients"`
		} `json:"channels"`
		Total int `json:"total"`
	}
	list := func(s *server, query string) (listing, error) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.base+"/api/admin/projects/"+project+"/channels?"+query, nil)
		req.Header.Set("Authorization", "apikey "+adminKey)
		resp, err := s.client.Do(req)
		if err != nil {
			return listing{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return listing{}, fmt.Errorf("status %d", resp.StatusCode)
		}
		var l listing
		err = json.NewDecoder(resp.Body).Decode(&l)
		return l, err
	}
	want := `{[{lobby 3} {side 1}] 2}`
	for _, s := range []*server{a, b} {
		var got listing
		eventually(t, 10*time.Second, "the summed channel list", func() bool {
			var err error
			got, err = list(s, "pattern=*")
			return err == nil && fmt.Sprint(got) == want
		})
	}
	got, err := list(a, "pattern=s*&per_page=1")
	if err != nil || got.Total != 1 || len(got.Channels) != 1 || got.Channels[0].Channel != "side" {
		t.Errorf("filtered: %+v, %v", got, err)
	}
	if _, err := list(a, "pattern=%5B"); err == nil {
		t.Error("a bad glob was accepted")
	}
}
