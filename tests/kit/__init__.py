"""What the tests share: a daemon (`daemon`), real clients (`clients`), the UI over HTTP
(`ui`) and in Chromium (`browser`), the CLI (`cli`), crashes (`crash`), TLS files (`tls`)."""
