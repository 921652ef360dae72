package mailbox

import (
	"bytes"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

// headerFields are the header fields the mailbox reads besides the
// envelope (names compared case-insensitively: go-message canonicalises).
var headerFields = []string{"Message-ID", "Disposition-Notification-To", "Return-Path", "X-MSS-INS", "X-MSS-CODECDA"}

// msgHeader is what Carnet reads from a message's header.
type msgHeader struct {
	from, subject, messageID string
	notifyTo, returnPath     string
	headerINS                string
	date                     time.Time
}

// headerOf reads the top-level header of raw (a whole message, or a header
// block alone). Fields that cannot be decoded are left empty.
func headerOf(raw []byte, lim Limits) msgHeader {
	lim = lim.withDefaults()
	var h msgHeader
	e, err := message.ReadWithOptions(bytes.NewReader(raw), &message.ReadOptions{MaxHeaderBytes: lim.MaxHeaderBytes})
	if e == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
		return h
	}
	mh := gomail.Header{Header: e.Header}
	if as, err := mh.AddressList("From"); err == nil && len(as) > 0 {
		h.from = as[0].Address
	}
	if s, err := mh.Subject(); err == nil {
		h.subject = s
	} else {
		h.subject = decode2047(mh.Get("Subject"))
	}
	if id, err := mh.MessageID(); err == nil {
		h.messageID = id
	}
	if d, err := mh.Date(); err == nil {
		h.date = d
	}
	h.notifyTo = addr(mh.Get("Disposition-Notification-To"))
	h.returnPath = addr(mh.Get("Return-Path"))
	h.headerINS = strings.ToUpper(strings.TrimSpace(mh.Get("X-Mss-Ins")))
	return h
}

// addr returns the bare address of a header value such as "Name <a@b>".
func addr(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
	}
	return v
}
