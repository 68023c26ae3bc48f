"""``python -m wav2lip_emotion`` is the same as the ``wav2lip-emotion`` command."""

import sys

from .cli import main

sys.exit(main())
