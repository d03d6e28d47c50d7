package redis

// keyspace names Redis keys and topics. Every key of one channel shares
// the `{key}` hash tag so that a Cluster keeps them, and the channel's
// shard topic, in one slot: the publish script touches them atomically.
type keyspace struct{ prefix string }

func (k keyspace) meta(key string) string      { return k.prefix + ":m:{" + key + "}" }
func (k keyspace) history(key string) string   { return k.prefix + ":h:{" + key + "}" }
func (k keyspace) topic(key string) string     { return k.prefix + ":t:{" + key + "}" }
func (k keyspace) presence(key string) string  { return k.prefix + ":p:{" + key + "}" }
func (k keyspace) presenceZ(key string) string { return k.prefix + ":pz:{" + key + "}" }

// idem is a channel's remembered idempotency key: in the channel's slot
// (the hash tag is the first {...}), so the publish script can read and
// write it in the same atomic step as the append.
func (k keyspace) idem(key, idemKey string) string {
	return k.prefix + ":i:{" + key + "}" + idemKey
}
func (k keyspace) revoke(user string) string { return k.prefix + ":r:{" + user + "}" }

// control is the topic every node subscribes to (classic pub/sub, which a
// Cluster broadcasts to every shard).
func (k keyspace) control() string { return k.prefix + ":control" }

// structure holds the structure snapshot: one hash (version, owner, data),
// so one key and one slot in a Cluster.
func (k keyspace) structure() string { return k.prefix + ":structure" }

// The node directory and channel counts live under one hash tag so that
// one script can read them all in a Cluster.
func (k keyspace) nodes() string               { return k.prefix + ":{nodes}:info" }
func (k keyspace) nodesZ() string              { return k.prefix + ":{nodes}:infoz" }
func (k keyspace) series() string              { return k.prefix + ":{nodes}:series" }
func (k keyspace) seriesZ() string             { return k.prefix + ":{nodes}:seriesz" }
func (k keyspace) channelsPrefix() string      { return k.prefix + ":{nodes}:ch:" }
func (k keyspace) channelsZ() string           { return k.prefix + ":{nodes}:chz" }
func (k keyspace) channels(node string) string { return k.channelsPrefix() + node }

// keyOfTopic returns the channel key of a topic, or false for other topics.
func (k keyspace) keyOfTopic(topic string) (string, bool) {
	p := k.prefix + ":t:{"
	if len(topic) < len(p)+1 || topic[:len(p)] != p || topic[len(topic)-1] != '}' {
		return "", false
	}
	return topic[len(p) : len(topic)-1], true
}
