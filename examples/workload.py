"""The workload that scripts/demo.sh profiles with `zmem run`: a word index
built, queried, serialised and dropped, in phases that show in the plot."""
import json
import random

rng = random.Random(42)
words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 12)))
         for _ in range(60000)]

index = {}                                   # phase 1: grow an index
for n, w in enumerate(words):
    index.setdefault(w[:3], []).append((n, w))
text = json.dumps(index)                      # phase 2: a big string on top
del index                                     # phase 3: let it all go
counts = sorted(((len(w), w) for w in words), reverse=True)[:5]
print(len(text), counts[0])
