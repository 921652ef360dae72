package mailbox

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/carnetdesk/carnet/app"
)

// maxViewText bounds the text body shown of a message.
const maxViewText = 64 << 10

// MessageViewer reads a sealed raw message for a person deciding on a
// manual-queue item: sender, subject, date, the text the sender wrote and
// every part with its content (app.MessageReader). It applies the same
// limits as the import.
type MessageViewer struct {
	Limits Limits
}

var _ app.MessageReader = MessageViewer{}

// ReadMessage implements app.MessageReader.
func (v MessageViewer) ReadMessage(raw []byte) (app.MailView, error) {
	lim := v.Limits.withDefaults()
	parts, _, err := walkMIME(raw, lim, true)
	if err != nil {
		return app.MailView{}, errors.Join(errors.New("mailbox: not a mail message"), app.ErrInvalid)
	}
	h := headerOf(raw, lim)
	view := app.MailView{From: h.from, Subject: h.subject, Date: h.date}
	for _, p := range parts {
		if p.MediaType == "message/rfc822" || p.MediaType == "message/global" {
			continue // its parts follow
		}
		if view.Text == "" && p.MediaType == "text/plain" && p.Disposition != "attachment" && p.FileName == "" && utf8.Valid(p.Body) {
			t := string(p.Body)
			if len(t) > maxViewText {
				t = strings.ToValidUTF8(t[:maxViewText], "") + "…"
			}
			view.Text = t
			continue
		}
		view.Parts = append(view.Parts, app.MailPart{Section: p.Section(), MediaType: p.MediaType, Name: p.FileName, Content: p.Body})
	}
	return view, nil
}
