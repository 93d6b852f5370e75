package samlsp

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits of the pre-parse guard. A real response is 4-20 KiB with 40-200 elements; Entra caps group
// claims at 150 before switching to a link. 900 elements stays clear of the ~1000-element subtree at
// which goxmldsig 1.6.1 makes crewjam v0.5.1 panic, and of the CPU a wide tree costs before any
// signature is looked at.
const (
	maxResponseBytes = 256 << 10
	maxElements      = 900
	maxDepth         = 64
)

// Key-transport and content-encryption algorithms accepted in an EncryptedAssertion. RSA-1_5 and
// 3DES are refused outright; the AES decrypters are scimsso's own (decrypt.go).
var allowedEncryption = map[string]bool{
	"http://www.w3.org/2001/04/xmlenc#aes128-cbc":     true,
	"http://www.w3.org/2001/04/xmlenc#aes192-cbc":     true,
	"http://www.w3.org/2001/04/xmlenc#aes256-cbc":     true,
	"http://www.w3.org/2009/xmlenc11#aes128-gcm":      true,
	"http://www.w3.org/2009/xmlenc11#aes192-gcm":      true,
	"http://www.w3.org/2009/xmlenc11#aes256-gcm":      true,
	"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p": true,
	"http://www.w3.org/2009/xmlenc11#rsa-oaep":        true,
}

// guardInfo is what the guard read from the response. None of it is authenticated: it only chooses
// which outstanding request to look up and which URL the testing-only destination bypass expects.
type guardInfo struct {
	ResponseID     string
	InResponseTo   string
	Destination    string
	Recipient      string // the first SubjectConfirmationData's
	ResponseSigned bool   // a Signature is a direct child of the Response
	Encrypted      bool   // the one assertion is an EncryptedAssertion
}

// errGuard marks a response refused by the guard.
var errGuard = errors.New("refused before parsing")

// guard is the spec's cheap check that runs before any XML library sees a response: one pass over the
// bytes, no allocation beyond the few attribute values it returns. It refuses a DOCTYPE (and with it
// every entity trick), more than maxElements elements or maxDepth levels, a root that is not a
// Response, anything but exactly one Assertion or EncryptedAssertion as a direct child of the
// Response and none anywhere else (the signature-wrapping shapes), and encryption algorithms outside
// allowedEncryption. It does not check well-formedness; the parser after it does.
func guard(b []byte) (guardInfo, error) {
	var info guardInfo
	fail := func(format string, args ...any) (guardInfo, error) {
		return guardInfo{}, fmt.Errorf("%w: "+format, append([]any{errGuard}, args...)...)
	}
	if len(b) > maxResponseBytes {
		return fail("response is %d bytes, more than %d", len(b), maxResponseBytes)
	}
	depth, elements, assertions := 0, 0, 0
	rootDone := false
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			k := bytes.Index(rest, []byte("?>"))
			if k < 0 {
				return fail("unterminated processing instruction")
			}
			i += k + 2
			continue
		case bytes.HasPrefix(rest, []byte("<!--")):
			k := bytes.Index(rest[4:], []byte("-->"))
			if k < 0 {
				return fail("unterminated comment")
			}
			i += 4 + k + 3
			continue
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			k := bytes.Index(rest, []byte("]]>"))
			if k < 0 {
				return fail("unterminated CDATA section")
			}
			i += k + 3
			continue
		case bytes.HasPrefix(rest, []byte("<!")):
			return fail("a DOCTYPE or other declaration is not allowed")
		case bytes.HasPrefix(rest, []byte("</")):
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return fail("unterminated end tag")
			}
			depth--
			if depth < 0 {
				return fail("end tag without a start tag")
			}
			if depth == 0 {
				rootDone = true
			}
			i += k + 1
			continue
		}
		// A start tag: its name, then attributes up to the '>' that is not inside a quoted value.
		end, selfClosing := tagEnd(rest)
		if end < 0 {
			return fail("unterminated start tag")
		}
		tag := rest[1:end]
		name := tag
		if k := bytes.IndexAny(name, " \t\r\n/"); k >= 0 {
			name = name[:k]
		}
		local := name
		if k := bytes.LastIndexByte(local, ':'); k >= 0 {
			local = local[k+1:]
		}
		elements++
		if elements > maxElements {
			return fail("more than %d elements", maxElements)
		}
		if rootDone {
			return fail("content after the root element")
		}
		isAssertion := string(local) == "Assertion" || string(local) == "EncryptedAssertion"
		switch {
		case depth == 0:
			if string(local) != "Response" {
				return fail("root element is %s, not a Response", name)
			}
			info.ResponseID = attr(tag, "ID")
			info.InResponseTo = attr(tag, "InResponseTo")
			info.Destination = attr(tag, "Destination")
		case depth == 1 && isAssertion:
			assertions++
			info.Encrypted = string(local) == "EncryptedAssertion"
		case isAssertion:
			return fail("an %s inside %s is not allowed", local, "another element")
		case depth == 1 && string(local) == "Signature":
			info.ResponseSigned = true
		case string(local) == "EncryptionMethod":
			if alg := attr(tag, "Algorithm"); !allowedEncryption[alg] {
				return fail("encryption algorithm %q is not accepted", alg)
			}
		case string(local) == "SubjectConfirmationData" && info.Recipient == "":
			info.Recipient = attr(tag, "Recipient")
		}
		if !selfClosing {
			depth++
			if depth > maxDepth {
				return fail("elements nested more than %d deep", maxDepth)
			}
		} else if depth == 0 {
			rootDone = true
		}
		i += end + 1
	}
	switch {
	case !rootDone || depth != 0:
		return fail("the Response is not closed")
	case assertions != 1:
		return fail("the Response holds %d assertions, not exactly one", assertions)
	}
	return info, nil
}

// tagEnd returns the index of the '>' closing the start tag at the beginning of b, skipping quoted
// attribute values, and whether the tag closes itself; -1 if it is not closed.
func tagEnd(b []byte) (int, bool) {
	var quote byte
	for k := 1; k < len(b); k++ {
		c := b[k]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			return -1, false
		case c == '>':
			return k, b[k-1] == '/'
		}
	}
	return -1, false
}

// attr returns the value of the unprefixed attribute name in a start tag's bytes (without '<' and
// '>'), or "". It walks the attributes one by one, so a name inside another attribute's value never
// matches.
func attr(tag []byte, name string) string {
	k := bytes.IndexAny(tag, " \t\r\n")
	if k < 0 {
		return ""
	}
	for k < len(tag) {
		for k < len(tag) && isSpace(tag[k]) {
			k++
		}
		start := k
		for k < len(tag) && tag[k] != '=' && !isSpace(tag[k]) {
			k++
		}
		n := tag[start:k]
		for k < len(tag) && isSpace(tag[k]) {
			k++
		}
		if k >= len(tag) || tag[k] != '=' {
			return ""
		}
		k++
		for k < len(tag) && isSpace(tag[k]) {
			k++
		}
		if k >= len(tag) || (tag[k] != '"' && tag[k] != '\'') {
			return ""
		}
		e := bytes.IndexByte(tag[k+1:], tag[k])
		if e < 0 {
			return ""
		}
		v := tag[k+1 : k+1+e]
		k += e + 2
		if string(n) == name {
			return string(v)
		}
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
