package transport

import "github.com/rotor-rt/rotor/pubsub"

func pubsubShutdown() *pubsub.Disconnect { return pubsub.DisconnectShutdownReason }
