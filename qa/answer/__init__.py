"""Answer: the articles' own sentences chosen (sentences, reader, spans, kinds), cited exactly, or refused (gate,
names); conversations read a follow-up with the turn before it."""
