"""Tests only: the points of recording where a test may have the recorder kill itself.

RECORD_FAULT_POINT is empty in every deployment, and then fault_point() does
nothing; the end-to-end tests set it to crash a recorder where a crash hurts
most, and prove that no line is lost or written twice.
"""

import logging
import os
import signal

from django.conf import settings

logger = logging.getLogger(__name__)


def fault_point(name: str) -> None:
    """Kill this process at the named point of recording when RECORD_FAULT_POINT names it.

    Lets the tests crash a recorder where a crash hurts most; the setting is
    empty, and this does nothing, unless a test sets it.
    """
    if name == settings.RECORD_FAULT_POINT:
        logger.warning("RECORD_FAULT_POINT=%s: killing this process", name)
        os.kill(os.getpid(), signal.SIGKILL)
