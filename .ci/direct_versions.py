"""Print the installed version of every requirement m365sentinel declares (extras included), for the CI log."""

import re
from importlib.metadata import requires, version

names = sorted({re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0] for r in requires("m365sentinel") or ()})
print("installed:", " ".join(f"{n}=={version(n)}" for n in names))
