package ui

import (
	"bufio"
	"bytes"
	"crypto/sha1" // #nosec G505 -- the OpenPGP v4 fingerprint is defined as SHA-1 (RFC 4880 §12.2); shown, never trusted
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxKeyFile bounds the size of a recovery key file read from disk.
const maxKeyFile = 1 << 20

// The problems summarizeKey finds in a key file.
var (
	errKeyPrivate    = errors.New("ui: recovery key: private key")
	errKeyNotOpenPGP = errors.New("ui: recovery key: not an openpgp public key")
	errKeyTooLarge   = errors.New("ui: recovery key: file too large")
)

// keySummary is what the first-run screen shows of the chosen recovery key,
// so that the user can check it against the fingerprint the clinic's IT
// published. The key itself is checked by the vault when it is created.
type keySummary struct {
	UserID      string // the first user id, "Clinique … <it@…>"
	Fingerprint string // upper-case hex in groups of four
}

// text returns the summary as shown on screen.
func (s keySummary) text() string {
	uid := s.UserID
	if uid == "" {
		uid = tr("firstrun.key.no-uid")
	}
	return tr("firstrun.key.summary", map[string]any{"UserID": uid, "Fingerprint": s.Fingerprint})
}

// summarizeKey reads an OpenPGP public key (armored or binary) far enough to
// give its first user id and its fingerprint (v4: SHA-1, v5 and v6:
// SHA-256). It refuses private keys: the recovery key that goes into the
// vault must be the clinic's public key.
func summarizeKey(data []byte) (keySummary, error) {
	if len(data) > maxKeyFile {
		return keySummary{}, errKeyTooLarge
	}
	if bytes.Contains(data, []byte("PRIVATE KEY BLOCK")) {
		return keySummary{}, errKeyPrivate
	}
	packets := data
	if bytes.Contains(data, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		var err error
		if packets, err = dearmor(data); err != nil {
			return keySummary{}, err
		}
	}
	var sum keySummary
	first := true
	for len(packets) > 0 {
		tag, body, rest, err := nextPacket(packets)
		if err != nil {
			return keySummary{}, err
		}
		packets = rest
		if first {
			switch tag {
			case 5, 7: // secret key, secret subkey
				return keySummary{}, errKeyPrivate
			case 6: // public key
			default:
				return keySummary{}, errKeyNotOpenPGP
			}
			fp, err := fingerprint(body)
			if err != nil {
				return keySummary{}, err
			}
			sum.Fingerprint = fp
			first = false
			continue
		}
		if tag == 13 && sum.UserID == "" { // user id
			sum.UserID = cleanUserID(body)
		}
	}
	if first {
		return keySummary{}, errKeyNotOpenPGP
	}
	return sum, nil
}

// dearmor returns the bytes of the first ASCII-armored public key block.
func dearmor(data []byte) ([]byte, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeyFile)
	const (
		before = iota
		headers
		body
	)
	state := before
	var b64 strings.Builder
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch state {
		case before:
			if line == "-----BEGIN PGP PUBLIC KEY BLOCK-----" {
				state = headers
			}
		case headers:
			if line == "" {
				state = body
			} else if !strings.Contains(line, ":") { // no blank line after the headers
				state = body
				b64.WriteString(line)
			}
		case body:
			if strings.HasPrefix(line, "=") || strings.HasPrefix(line, "-----END") {
				out, err := base64.StdEncoding.DecodeString(b64.String())
				if err != nil {
					return nil, errKeyNotOpenPGP
				}
				return out, nil
			}
			b64.WriteString(line)
		}
	}
	return nil, errKeyNotOpenPGP
}

// nextPacket splits the first OpenPGP packet off data (RFC 9580 §4.2).
func nextPacket(data []byte) (tag byte, body, rest []byte, err error) {
	if len(data) < 2 || data[0]&0x80 == 0 {
		return 0, nil, nil, errKeyNotOpenPGP
	}
	h := data[0]
	var n, hdr int
	if h&0x40 != 0 { // new format
		tag = h & 0x3f
		switch o := int(data[1]); {
		case o < 192:
			n, hdr = o, 2
		case o < 224:
			if len(data) < 3 {
				return 0, nil, nil, errKeyNotOpenPGP
			}
			n, hdr = (o-192)<<8+int(data[2])+192, 3
		case o == 255:
			if len(data) < 6 {
				return 0, nil, nil, errKeyNotOpenPGP
			}
			n, hdr = int(binary.BigEndian.Uint32(data[2:6])), 6
		default: // partial lengths never occur in keys
			return 0, nil, nil, errKeyNotOpenPGP
		}
	} else { // legacy format
		tag = (h >> 2) & 0x0f
		switch h & 3 {
		case 0:
			n, hdr = int(data[1]), 2
		case 1:
			if len(data) < 3 {
				return 0, nil, nil, errKeyNotOpenPGP
			}
			n, hdr = int(binary.BigEndian.Uint16(data[1:3])), 3
		case 2:
			if len(data) < 5 {
				return 0, nil, nil, errKeyNotOpenPGP
			}
			n, hdr = int(binary.BigEndian.Uint32(data[1:5])), 5
		default: // indeterminate: the rest of the data
			n, hdr = len(data)-1, 1
		}
	}
	if n < 0 || hdr+n > len(data) {
		return 0, nil, nil, errKeyNotOpenPGP
	}
	return tag, data[hdr : hdr+n], data[hdr+n:], nil
}

// fingerprint computes the fingerprint of a public key packet body.
func fingerprint(body []byte) (string, error) {
	if len(body) == 0 {
		return "", errKeyNotOpenPGP
	}
	var sum []byte
	switch body[0] {
	case 4:
		h := sha1.New() // #nosec G401 -- see the import
		h.Write([]byte{0x99, byte(len(body) >> 8), byte(len(body))})
		h.Write(body)
		sum = h.Sum(nil)
	case 5, 6:
		h := sha256.New()
		prefix := byte(0x9a)
		if body[0] == 6 {
			prefix = 0x9b
		}
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(body))) // #nosec G115 -- bounded by maxKeyFile
		h.Write([]byte{prefix})
		h.Write(n[:])
		h.Write(body)
		sum = h.Sum(nil)
	default:
		return "", errKeyNotOpenPGP
	}
	hex := fmt.Sprintf("%X", sum)
	var groups []string
	for i := 0; i < len(hex); i += 4 {
		groups = append(groups, hex[i:min(i+4, len(hex))])
	}
	return strings.Join(groups, " "), nil
}

// cleanUserID returns a user id fit for display: valid UTF-8, no control
// characters, at most 120 characters.
func cleanUserID(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > 120 {
		s = string([]rune(s)[:120]) + "…"
	}
	return s
}
