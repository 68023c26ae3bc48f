"""``python -m wav2lip_emotion.cli`` (as torchrun launches training) is the ``wav2lip-emotion`` command."""

import sys

from . import main

sys.exit(main())
