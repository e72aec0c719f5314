"""The one logging set-up: a library's leftover root handler goes, every handler masks."""

from __future__ import annotations

import logging

import pytest

from kiosk.logs import setup_logging
from kiosk.privacy import PersonalDataFilter
from tests.logging_kit import root_logger_kept


@pytest.fixture
def root_logger():
    with root_logger_kept() as root:
        yield root


@pytest.mark.parametrize("with_file", [True, False])
def test_a_library_basicconfig_is_replaced_by_masked_handlers(tmp_path, root_logger, with_file):
    for handler in list(root_logger.handlers):
        root_logger.removeHandler(handler)
    logging.basicConfig()  # what python-escpos does when it is imported
    leftover = root_logger.handlers[0]

    setup_logging(tmp_path / "logs" if with_file else None, logging.DEBUG)

    assert leftover not in root_logger.handlers
    assert root_logger.level == logging.DEBUG
    assert len(root_logger.handlers) == (2 if with_file else 1)
    for handler in root_logger.handlers:
        assert any(isinstance(f, PersonalDataFilter) for f in handler.filters)
    logging.getLogger("kiosk.test").info("written once")
    if with_file:
        for handler in root_logger.handlers:
            handler.flush()
        assert (tmp_path / "logs" / "kiosk.log").read_text().count("written once") == 1
    else:
        assert not (tmp_path / "logs").exists()


def test_an_account_or_bill_number_in_a_message_is_masked_and_an_order_number_kept():
    record = logging.LogRecord("aiohttp.access", logging.INFO, __file__, 1,
                               '"GET /utility/v1/bills/%s HTTP/1.1" 200 for order %s', (
                                   "3100123456789", "0001202611270815B5665801"), None)
    PersonalDataFilter().filter(record)
    message = record.getMessage()
    assert "3100123456789" not in message and "***********89" in message
    assert "0001202611270815B5665801" in message


def test_an_id_number_in_a_logged_traceback_is_masked(tmp_path, root_logger):
    setup_logging(tmp_path, logging.INFO)
    id_number = "11010519491231002X"
    try:
        {}[id_number]  # what a lookup keyed by the number raises
    except KeyError:
        logging.getLogger("kiosk.test").exception("lookup failed")
    for handler in root_logger.handlers:
        handler.flush()
    written = (tmp_path / "kiosk.log").read_text()
    assert "Traceback" in written and "KeyError" in written
    assert id_number not in written and "****************2X" in written
