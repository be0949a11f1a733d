"""Result codes: dotted, stable, each with a Vietnamese and an English message."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Every result code a hub or edge may answer with."""

    APPROVED = "approved"
    DECLINED_INSUFFICIENT_FUNDS = "declined.insufficient_funds"
    DECLINED_DAILY_LIMIT = "declined.daily_limit"
    DECLINED_OFFLINE_LIMIT = "declined.offline_limit"
    DECLINED_CARD_BLOCKED = "declined.card_blocked"
    DECLINED_UNKNOWN_CARD = "declined.unknown_card"
    ATTENDANCE_PRESENT = "attendance.present"
    ATTENDANCE_LATE = "attendance.late"
    ATTENDANCE_DUPLICATE = "attendance.duplicate"
    ATTENDANCE_NO_CLASS = "attendance.no_class"
    LOAN_OK = "loan.ok"
    LOAN_RETURNED = "loan.returned"
    LOAN_RENEWED = "loan.renewed"
    LOAN_LIMIT_REACHED = "loan.limit_reached"
    LOAN_ITEM_ON_HOLD = "loan.item_on_hold"
    LOAN_UNKNOWN_ITEM = "loan.unknown_item"
    CMD_OK = "cmd.ok"
    CMD_UNKNOWN = "cmd.unknown"
    #: A command this edge knows but cannot carry out (no such device, no such control).
    CMD_UNSUPPORTED = "cmd.unsupported"
    CMD_FAILED = "cmd.failed"
    CMD_TIMEOUT = "cmd.timeout"
    ERROR_BAD_REQUEST = "error.bad_request"
    ERROR_FORBIDDEN = "error.forbidden"
    ERROR_INTERNAL = "error.internal"
    ERROR_UNAVAILABLE = "error.unavailable"
    ERROR_NO_ANSWER = "error.no_answer"
    TILL_NO_SALE = "till.no_sale"


#: (Vietnamese, English) per code, short enough for a reader's two-line screen.
MESSAGES: dict[Code, tuple[str, str]] = {
    Code.APPROVED: ("Thanh toán thành công", "Payment approved"),
    Code.DECLINED_INSUFFICIENT_FUNDS: ("Số dư không đủ", "Insufficient funds"),
    Code.DECLINED_DAILY_LIMIT: ("Vượt hạn mức chi tiêu trong ngày", "Daily spending limit reached"),
    Code.DECLINED_OFFLINE_LIMIT: ("Vượt hạn mức khi mất kết nối", "Offline limit reached"),
    Code.DECLINED_CARD_BLOCKED: ("Thẻ đã bị khóa", "Card blocked"),
    Code.DECLINED_UNKNOWN_CARD: ("Thẻ không hợp lệ", "Unknown card"),
    Code.ATTENDANCE_PRESENT: ("Đã điểm danh: có mặt", "Checked in: present"),
    Code.ATTENDANCE_LATE: ("Đã điểm danh: đi trễ", "Checked in: late"),
    Code.ATTENDANCE_DUPLICATE: ("Đã điểm danh trước đó", "Already checked in"),
    Code.ATTENDANCE_NO_CLASS: ("Không có tiết học lúc này", "No class scheduled now"),
    Code.LOAN_OK: ("Mượn sách thành công", "Book checked out"),
    Code.LOAN_RETURNED: ("Trả sách thành công", "Book returned"),
    Code.LOAN_RENEWED: ("Gia hạn thành công", "Loan renewed"),
    Code.LOAN_LIMIT_REACHED: ("Đã mượn tối đa số sách", "Loan limit reached"),
    Code.LOAN_ITEM_ON_HOLD: (
        "Sách đang được người khác đặt trước",
        "Item is on hold for another reader",
    ),
    Code.LOAN_UNKNOWN_ITEM: ("Không tìm thấy sách", "Unknown item"),
    Code.CMD_OK: ("Đã thực hiện lệnh", "Command done"),
    Code.CMD_UNKNOWN: ("Lệnh không được hỗ trợ", "Unknown command"),
    Code.CMD_UNSUPPORTED: ("Thiết bị không hỗ trợ lệnh này", "Not supported by this edge"),
    Code.CMD_FAILED: ("Thực hiện lệnh thất bại", "Command failed"),
    Code.CMD_TIMEOUT: ("Hết thời gian chờ phản hồi", "Command timed out"),
    Code.ERROR_BAD_REQUEST: ("Yêu cầu không hợp lệ", "Bad request"),
    Code.ERROR_FORBIDDEN: ("Không có quyền", "Forbidden"),
    Code.ERROR_INTERNAL: ("Lỗi hệ thống, vui lòng thử lại", "Internal error, please retry"),
    Code.ERROR_UNAVAILABLE: ("Hệ thống tạm thời không phục vụ", "Service temporarily unavailable"),
    Code.ERROR_NO_ANSWER: ("Không có phản hồi, vui lòng thử lại", "No answer, please try again"),
    Code.TILL_NO_SALE: ("Chưa nhập số tiền cần thanh toán", "Enter the amount first"),
}


def is_ok(code: Code) -> bool:
    """Whether a code means the request took effect (or had already taken it)."""
    return code in _OK


_OK = frozenset(
    {
        Code.APPROVED,
        Code.ATTENDANCE_PRESENT,
        Code.ATTENDANCE_LATE,
        Code.ATTENDANCE_DUPLICATE,
        Code.LOAN_OK,
        Code.LOAN_RETURNED,
        Code.LOAN_RENEWED,
        Code.CMD_OK,
    }
)
