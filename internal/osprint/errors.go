package osprint

import "errors"

var errEmpty = errors.New("osprint: empty document")
