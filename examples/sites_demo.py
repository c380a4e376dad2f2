import json
rows = [{"id": i, "name": "item %d" % i, "tags": ["t%d" % (i % 7)] * 3} for i in range(60000)]
text = json.dumps(rows)
back = json.loads(text)
print(len(text), len(back))
