/**
 * The two DL/T 645 editions this driver speaks, as data: the frame, the +33h scrambling, the
 * checksum, the address and the control-code bits (D7 reply, D6 error reply, D5 more frames
 * follow) are the same; what differs is below. A profile names its edition (`protocol`), so
 * meters of both editions can share one line.
 *
 * DL/T 645-1997 《多功能电能表通信规约》: function codes 00001 read data (01h), 00010 read
 * follow-up data (02h); data identifiers DI1 DI0 (2 bytes, 4 hex digits), sent DI0 first; no
 * read-address command: a 1997 meter is only found at its address.
 * DL/T 645-2007 《多功能电能表通信协议》: 11h read, 12h read follow-up (with a frame sequence
 * byte), 13h read address; identifiers DI3..DI0 (4 bytes, 8 hex digits).
 */
import type { Dlt645Protocol } from '../profiles/types.js';

export type { Dlt645Protocol };

export interface Dlt645Variant {
  protocol: Dlt645Protocol;
  /** `DL/T 645-2007` */
  standard: string;
  /** Bytes of a data identifier on the wire (hex digits = 2x). */
  diBytes: 2 | 4;
  /** Request control codes. */
  control: { read: number; readFollowUp: number; readAddress?: number };
  /** A follow-up request and reply carry a frame sequence byte after the data. */
  followUpSequence: boolean;
  /** Names of the error byte's bits (bit 0 first), where the edition's table was checked. */
  errorBits?: readonly string[];
}

export const DLT645_2007: Dlt645Variant = {
  protocol: 'dlt645-2007',
  standard: 'DL/T 645-2007',
  diBytes: 4,
  control: { read: 0x11, readFollowUp: 0x12, readAddress: 0x13 },
  followUpSequence: true,
  // DL/T 645-2007 table "应答异常帧 错误信息字 ERR": one bit per reason.
  errorBits: [
    'other error',
    'no requested data (the meter does not support this data identifier)',
    'password error or unauthorized',
    'communication rate cannot be changed',
    'annual time zone count exceeded',
    'daily time slot count exceeded',
    'tariff count exceeded',
    'reserved error bit 7',
  ],
};

export const DLT645_1997: Dlt645Variant = {
  protocol: 'dlt645-1997',
  standard: 'DL/T 645-1997',
  diBytes: 2,
  control: { read: 0x01, readFollowUp: 0x02 },
  followUpSequence: false,
  // The 1997 error byte's bit names could not be checked against a public copy: shown as hex.
};

const VARIANTS: Record<Dlt645Protocol, Dlt645Variant> = { 'dlt645-2007': DLT645_2007, 'dlt645-1997': DLT645_1997 };

export function variantOf(protocol: Dlt645Protocol = 'dlt645-2007'): Dlt645Variant {
  return VARIANTS[protocol];
}
