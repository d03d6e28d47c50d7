package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/transport/apiclient"
)

// A backend publishes with a key of its own (an order id, say): however
// often it retries, the order is published once. rotorURL is a real server
// started by the test.
func ExampleClient_Publish() {
	c, err := apiclient.New(rotorURL, apiKey, apiclient.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	req := apiclient.PublishRequest{
		Channel:        "orders",
		Data:           map[string]any{"order": 4711, "status": "paid"},
		IdempotencyKey: "order-4711-paid",
	}
	first, err := c.Publish(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	again, err := c.Publish(ctx, req) // a retry, as after a lost answer
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.Offset, again.Offset, first == again)
	// Output: 1 1 true
}

// Errors from the server are *apiclient.Error with the protocol code.
func ExampleError() {
	c, err := apiclient.New(rotorURL, apiKey, apiclient.Options{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Publish(context.Background(), apiclient.PublishRequest{Channel: "nope:x", Data: 1})
	var e *apiclient.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Code == apiclient.CodeUnknownChannel, e.Temporary())
	}
	// Output: 102 true false
}

// A batch publishes and reads in one request.
func ExampleClient_Batch() {
	c, err := apiclient.New(rotorURL, apiKey, apiclient.Options{})
	if err != nil {
		log.Fatal(err)
	}
	replies, err := c.Batch(context.Background(),
		apiclient.PublishCommand(apiclient.PublishRequest{Channel: "scores", Data: 1}),
		apiclient.PublishCommand(apiclient.PublishRequest{Channel: "scores", Data: 2}),
		apiclient.HistoryCommand(apiclient.HistoryRequest{Channel: "scores"}),
	)
	if err != nil {
		log.Fatal(err)
	}
	var h apiclient.HistoryResult
	if err := replies[2].Decode(&h); err != nil {
		log.Fatal(err)
	}
	for _, p := range h.Publications {
		fmt.Println(p.Offset, string(p.Data))
	}
	// Output:
	// 1 1
	// 2 2
}

// A backend mints the connection token its page hands to rotor-js.
func ExampleConnectionToken() {
	token, err := apiclient.ConnectionToken([]byte(secret), apiclient.ConnectionClaims{
		User:    "alice",
		Expires: time.Now().Add(time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(token) > 0)
	// Output: true
}

// An events hook endpoint checks that calls come from Rotor.
func ExampleVerifyWebhook() {
	http.HandleFunc("POST /rotor/events", func(w http.ResponseWriter, r *http.Request) {
		body, err := apiclient.VerifyWebhook(r, []byte(secret))
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		_ = body // {"events": [...]}
	})
}
