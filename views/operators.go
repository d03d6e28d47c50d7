package views

// ChannelList is one page of a project's live channels.
type ChannelList struct {
	ProjectID string
	Pattern   string
	Channels  []ChannelCount
	// Total counts every matching channel, on every page.
	Total   int
	Page    int
	PerPage int
	HasNext bool
}

// ChannelCount is one row of the channel list: subscribers summed over
// every node.
type ChannelCount struct {
	Channel string
	Clients int
}

// User is the user page's content: the actions on one user.
type User struct {
	ProjectID string
	User      string
	// Channel pre-fills the unsubscribe and token forms.
	Channel string
	// Done is the flash after an action succeeded.
	Done string
	// Token is a freshly minted token, TokenKind "connection" or
	// "subscription", TokenTTL its lifetime ("10m0s").
	Token     string
	TokenKind string
	TokenTTL  string
}

// Confirm is the confirm step of an action that ends sessions: a second
// form posting Fields again with confirm=yes.
type Confirm struct {
	Title  string
	Text   string
	Button string
	Action string
	// Back is where Cancel goes.
	Back   string
	Fields []Field
}

// Field is a hidden form field.
type Field struct {
	Name  string
	Value string
}
