"""Compile a gettext .po file to .mo with polib, so no system gettext is needed to install."""

import sys
from pathlib import Path

import polib

for name in sys.argv[1:]:
    po = polib.pofile(name)
    po.save_as_mofile(str(Path(name).with_suffix(".mo")))
    print(f"compiled {name} ({po.percent_translated()}% translated)")
