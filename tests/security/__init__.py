"""One regression test per finding of the second security review (issue 13), named for it."""
