"""Eval: question sets checked against their articles (questions), every question asked as `qa ask` does (run),
scored as docs/design.md defines (metrics), and reported (report); where the public sets are (sets)."""
