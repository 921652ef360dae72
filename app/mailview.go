package app

import (
	"context"
	"fmt"
	"time"
)

// MailView is what a person reads of a queued message before deciding:
// the sender, subject and date, the text the sender wrote, and every part
// (attachments, the documents of a forwarded message) with its content.
type MailView struct {
	From    string
	Subject string
	Date    time.Time
	Text    string     // the first text/plain part that is not an attachment
	Parts   []MailPart // every other leaf part, in the message's order
}

// MailPart is one part of a message, shown by its position, never by its
// file name alone.
type MailPart struct {
	Section   string // IMAP part path, "2" or "3.1"
	MediaType string
	Name      string // decoded file name, shown on screen only
	Content   []byte // decoded content; nil when not kept (too large)
}

// MessageReader turns a sealed raw message into what a person reads. It
// is implemented by the mailbox adapter (mailbox.MessageViewer).
type MessageReader interface {
	ReadMessage(raw []byte) (MailView, error)
}

// SetMessageReader sets the reader of queued messages (main wires it).
func (s *Service) SetMessageReader(r MessageReader) {
	s.mu.Lock()
	s.msgReader = r
	s.mu.Unlock()
}

// InboxMessage returns the message an inbox item came from, as a person
// reads it (MailView), from the raw message sealed at import. Reading is
// audited. ErrNotFound when the raw message is gone (retention).
func (s *Service) InboxMessage(ctx context.Context, id InboxID) (MailView, error) {
	s.Touch()
	s.mu.Lock()
	r := s.msgReader
	s.mu.Unlock()
	if r == nil {
		return MailView{}, fmt.Errorf("inbox message: no message reader: %w", ErrNotConfigured)
	}
	it, err := s.inboxItem(ctx, id)
	if err != nil {
		return MailView{}, fmt.Errorf("inbox message: %w", err)
	}
	raw, err := s.store.RawMessage(ctx, it.MessageKey)
	if err != nil {
		return MailView{}, fmt.Errorf("inbox message: %w", err)
	}
	v, err := r.ReadMessage(raw.Bytes)
	s.audit(ctx, s.mailEvent("mail.read.message", "", resultOf(err), string(id)))
	if err != nil {
		return MailView{}, fmt.Errorf("inbox message: %w", err)
	}
	return v, nil
}

// ReadMailPart reads one part of a queued message with the document
// reader (a CDA rendered, a PDF or an image as an attachment).
func (s *Service) ReadMailPart(p MailPart) (ClinicalDocument, error) {
	r, _ := s.reading.current()
	if r == nil {
		return ClinicalDocument{}, errNoReader
	}
	if len(p.Content) == 0 {
		return ClinicalDocument{}, fmt.Errorf("read mail part: not kept: %w", ErrInvalid)
	}
	cd, err := r.Read(p.Content, DocumentMeta{MediaType: p.MediaType})
	if err != nil {
		return ClinicalDocument{}, fmt.Errorf("read mail part: %w", err)
	}
	return cd, nil
}
