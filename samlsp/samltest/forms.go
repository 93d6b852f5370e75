package samltest

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Form is an HTML form as a browser would submit it: where, how, and the values of its controls.
type Form struct {
	Action *url.URL
	Method string // GET or POST
	Values url.Values
}

// Forms reads the forms of an HTML page fetched from page, so tests can go through IdP login pages and
// auto-post forms as a browser does: a form without an action posts back to the page; inputs (not
// buttons; checkboxes and radios only when checked), textareas and selects (the selected option, else
// the first) give their values; disabled controls give none.
func Forms(page *url.URL, body []byte) ([]Form, error) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var forms []Form
	var walk func(n *html.Node, f *Form)
	walk = func(n *html.Node, f *Form) {
		if n.Type == html.ElementNode {
			a := attrs(n)
			switch n.Data {
			case "form":
				action, err := page.Parse(a["action"])
				if err != nil {
					return
				}
				nf := Form{Action: action, Method: http.MethodGet, Values: url.Values{}}
				if strings.EqualFold(a["method"], http.MethodPost) {
					nf.Method = http.MethodPost
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, &nf)
				}
				forms = append(forms, nf)
				return
			case "input", "textarea", "select":
				if _, disabled := a["disabled"]; f == nil || a["name"] == "" || disabled {
					break
				}
				if v, ok := controlValue(n, a); ok {
					f.Values.Add(a["name"], v)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	return forms, nil
}

func controlValue(n *html.Node, a map[string]string) (string, bool) {
	switch n.Data {
	case "textarea":
		return text(n), true
	case "select":
		first, chosen, any := "", "", false
		var options func(*html.Node)
		options = func(c *html.Node) {
			if c.Type == html.ElementNode && c.Data == "option" {
				oa := attrs(c)
				v, ok := oa["value"]
				if !ok {
					v = strings.Join(strings.Fields(text(c)), " ")
				}
				if !any {
					first, any = v, true
				}
				if _, sel := oa["selected"]; sel && chosen == "" {
					chosen = v + "\x00"
				}
			}
			for k := c.FirstChild; k != nil; k = k.NextSibling {
				options(k)
			}
		}
		options(n)
		if chosen != "" {
			return strings.TrimSuffix(chosen, "\x00"), true
		}
		return first, any
	}
	switch strings.ToLower(a["type"]) {
	case "submit", "button", "image", "reset", "file":
		return "", false
	case "checkbox", "radio":
		if _, on := a["checked"]; !on {
			return "", false
		}
		if _, ok := a["value"]; !ok {
			return "on", true
		}
	}
	return a["value"], true
}

func attrs(n *html.Node) map[string]string {
	m := make(map[string]string, len(n.Attr))
	for _, a := range n.Attr {
		m[strings.ToLower(a.Key)] = a.Val
	}
	return m
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}
