"""The data contract of the three tasks: its error type, the value parsers, the delimited-text reader and every
task's pre-flight check.

No TensorFlow here: the CLI runs the pre-flight checks before anything heavy is imported, and the pipeline's
ExampleGen (`components/text_example_gen.py`) parses every file with the same `parse_rows`, so a file the
pre-flight accepts is read the same way inside the pipeline.

Formats:
  - CSV (a `.csv` file, or `--delimiter ,`): RFC 4180: fields and header names may be quoted, a quoted field may
    hold the delimiter, doubled quotes and line breaks.
  - Anything else (tab by default): split on the delimiter and nothing else, no quoting rules, because SST-2 and
    the Tatoeba pairs have sentences with bare `"` that a quote-aware reader would merge across lines.
Every error names the file and line (and the column where there is one).

Numbers: a missing value is an empty cell or NA, null or none (any case); `nan`, `inf` and the like are values
that are not finite numbers, an error (a spreadsheet's or a program's failure written out, not a measurement).
"""
import csv
import dataclasses
import datetime
import itertools
import io
import json
import math
import hashlib
import os
import re
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from core import storage


class DataContractError(ValueError):
  """Input data that breaks a task's data contract; the message is meant for users."""


# ----------------------------------------------------------------------------------------------------
# Values.

MISSING_TOKENS = frozenset(['', 'na', 'null', 'none'])


class NotFiniteError(DataContractError):
  """A numeric cell that parses as a number but is not a finite one (nan, inf)."""


def parse_timestamp(value) -> int:
  """A time-column value -> Unix seconds (UTC). Strings are ISO 8601 dates or date-times; ints are Unix seconds."""
  if isinstance(value, int) and not isinstance(value, bool):
    return int(value)
  text = value.decode('utf-8') if isinstance(value, bytes) else str(value)
  text = text.strip()
  if text.lstrip('-').isdigit():  # Unix seconds written as text (CSV cells are text)
    return int(text)
  try:
    parsed = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
  except ValueError:
    for fmt in ('%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y/%m/%d', '%d.%m.%Y %H:%M:%S', '%d.%m.%Y'):
      try:
        parsed = datetime.datetime.strptime(text, fmt)
        break
      except ValueError:
        continue
    else:
      raise DataContractError(f'{text!r} is not a timestamp or date (expected e.g. 2014-01-31 13:00:00)')
  if parsed.tzinfo is None:
    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
  return int(parsed.timestamp())


def format_timestamp(seconds: int) -> str:
  return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')


def parse_number(value) -> float:
  """A numeric cell (text, bytes or number) -> float; missing markers ('', NA, null, none) -> nan.

  Raises DataContractError for text that is not a number, NotFiniteError for nan, inf and overflowing values."""
  if value is None:
    return math.nan
  if isinstance(value, (bytes, str)):
    text = (value.decode('utf-8', errors='replace') if isinstance(value, bytes) else value).strip()
    if text.lower() in MISSING_TOKENS:
      return math.nan
    try:
      number = float(text)
    except ValueError:
      raise DataContractError(f'{text!r} is not a number') from None
    if not math.isfinite(number):
      raise NotFiniteError(f'{text!r} is not a finite number (write a missing value as an empty cell or NA)')
    return number
  return float(value)


def _duration(seconds: int) -> str:
  for unit, size in (('day', 86400), ('hour', 3600), ('minute', 60)):
    if seconds % size == 0:
      count = seconds // size
      return f'{count} {unit}' + ('s' if count != 1 else '')
  return f'{seconds} seconds'


# ----------------------------------------------------------------------------------------------------
# Delimited text files.

MAX_LINE_CHARS = 100_000  # sentiment and forecast: far above any review or CSV row; a longer line is a broken file


@dataclasses.dataclass(frozen=True)
class TextFormat:
  """What the lines of a task's input files must look like."""
  columns: Tuple[str, ...]  # with a header: the columns that must exist; without: the fields' names in order
  delimiter: str = '\t'
  quoting: bool = False  # RFC 4180 quoting (CSV); False: split on the delimiter only
  header: bool = True
  int_columns: Tuple[str, ...] = ()
  float_columns: Tuple[str, ...] = ()  # missing markers become absent values
  allowed_values: Dict[str, Tuple[int, ...]] = dataclasses.field(default_factory=dict)
  non_empty: Tuple[str, ...] = ()
  max_line_chars: int = 0  # > 0: longer lines are an error (a file that is not one record a line)
  max_fields: int = 0  # without a header: fields after `columns` up to this many are ignored (0: any number)
  # Time order, checked per file and per series: with a time column, each series' rows must be in time order
  # (oldest or newest first) without repeated timestamps, and no gap may miss more than `max_gap_steps` steps
  # of `step_seconds` (0: the series' most common spacing in the file). 0 max_gap_steps: gaps are not checked.
  time_column: str = ''
  series_column: str = ''
  step_seconds: int = 0
  max_gap_steps: int = 0

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'TextFormat':
    fields = json.loads(text)
    for name in ('columns', 'int_columns', 'float_columns', 'non_empty'):
      fields[name] = tuple(fields[name])
    fields['allowed_values'] = {k: tuple(v) for k, v in fields['allowed_values'].items()}
    return cls(**fields)

  @property
  def description(self) -> str:
    separator = {'\t': 'tab', ',': 'comma'}.get(self.delimiter, repr(self.delimiter))
    return f'{separator}-separated' + (', CSV quoting' if self.quoting else ', no quoting')


CSV_EXTENSION = '.csv'


def format_for(path: str, delimiter: Optional[str] = None) -> Tuple[str, bool]:
  """(delimiter, quoting) for a file: a `.csv` file follows CSV quoting rules, comma-separated unless another
  delimiter is given (`;` as some spreadsheet exports write it); any other file is tab-separated unless told
  otherwise, without quoting rules. A comma always means CSV quoting."""
  is_csv = path.lower().endswith(CSV_EXTENSION)
  if delimiter is None:
    delimiter = ',' if is_csv else '\t'
  return delimiter, is_csv or delimiter == ','


# Text saved as UTF-16 (Excel's "Unicode Text", Windows tools) starts with one of these byte-order marks.
_UTF16_MARKS = (b'\xff\xfe', b'\xfe\xff')
_LONE_CR = re.compile(r'(?<=\r)(?!\n)')  # just after a `\r` that no `\n` follows


_BINARY_LOOKAHEAD = 64 * 1024  # bytes read past a line that is not UTF-8, looking for a NUL


def _check_no_nul(raw: bytes, number: int, name: str) -> None:
  nul = raw.find(b'\0')
  if nul >= 0:
    raise DataContractError(f'{name} line {number}: looks like a binary file, not text (a NUL byte at byte '
                            f'{nul + 1} of the line; an image, a compressed archive or a database file?)')


def _look_for_nul(lines: Iterator[bytes], first_number: int, name: str) -> None:
  """Raises the binary-file error for a NUL in the next _BINARY_LOOKAHEAD bytes of `lines`."""
  seen = 0
  for number, raw in enumerate(lines, start=first_number):
    _check_no_nul(raw, number, name)
    seen += len(raw)
    if seen > _BINARY_LOOKAHEAD:
      return


def _text_lines(lines: Iterable[bytes], name: str, text_format: TextFormat,
                first_line: int) -> Iterator[Tuple[int, str]]:
  """(line number, decoded line with its ending) of each line, `first_line` being the first one's number. A line
  that is not UTF-8 text (NUL bytes never occur in it: an image, an archive, a database file), or longer than
  `max_line_chars`, is an error naming its line."""
  lines = iter(lines)
  for number, raw in enumerate(lines, start=first_line):
    if number == 1:
      if raw.startswith(_UTF16_MARKS):
        raise DataContractError(f'{name} line 1: the file is UTF-16 text (it starts with a UTF-16 byte-order '
                                'mark); save it as UTF-8')
      raw = raw.removeprefix(b'\xef\xbb\xbf')  # a UTF-8 byte-order mark is not part of a name
    _check_no_nul(raw, number, name)
    try:
      line = raw.decode('utf-8')
    except UnicodeDecodeError as e:
      # A binary file (an image, an archive) often starts with bytes that are not UTF-8 before its first NUL:
      # the lines just after say which it is.
      _look_for_nul(lines, number + 1, name)
      raise DataContractError(f'{name} line {number}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte '
                              f'{e.start + 1} of the line)') from None
    if text_format.max_line_chars:
      length = len(line.removesuffix('\n').rstrip('\r'))
      if length > text_format.max_line_chars:
        raise DataContractError(f'{name} line {number}: {length:,} characters, more than the '
                                f'{text_format.max_line_chars:,} allowed for one line (not a file of one '
                                'record per line?)')
    yield number, line


def _records(lines: Iterator[Tuple[int, str]], name: str, text_format: TextFormat,
             first_line: int) -> Iterator[Tuple[int, List[str]]]:
  """(first line number, fields) of every non-blank record."""
  if not text_format.quoting:
    for number, line in lines:
      line = line.removesuffix('\n').rstrip('\r')
      if line.strip():
        yield number, line.split(text_format.delimiter)
    return

  def universal_lines():
    # The csv module reads `\r`, `\n` and `\r\n` as line ends (a file from an old Mac has `\r` only); a line here
    # ends at `\n`, so a lone `\r` inside it ends one more.
    for _, line in lines:
      yield from (part for part in _LONE_CR.split(line) if part)

  # skipinitialspace: `"a", "b"` (a space after the delimiter) still reads as two quoted fields.
  reader = csv.reader(universal_lines(), delimiter=text_format.delimiter, quotechar='"', doublequote=True,
                      skipinitialspace=True, strict=True)
  last_line = first_line - 1
  while True:
    try:
      fields = next(reader)
    except StopIteration:
      return
    except csv.Error as e:
      raise DataContractError(f'{name} line {last_line + 1}: not valid CSV ({e}; a field that contains the '
                              'delimiter or a quote must be quoted, with quotes inside it doubled)') from None
    first, last_line = last_line + 1, first_line - 1 + reader.line_num
    if any(field.strip() for field in fields):
      yield first, fields


def _expected_fields(columns: Sequence[str], text_format: TextFormat, too_many: bool) -> str:
  expected = f'expected {len(columns)} ({", ".join(columns)})'
  if too_many and not text_format.header:
    expected += f' and at most {text_format.max_fields - len(columns)} more (ignored)'
  return expected


def _row(fields: List[str], columns: List[str], where: str, text_format: TextFormat) -> Dict[str, Any]:
  """One record's fields as {column: value}, checked and typed (see parse_rows)."""
  too_many = (len(fields) > len(columns) if text_format.header
              else 0 < text_format.max_fields < len(fields))
  if len(fields) < len(columns) or too_many:
    raise DataContractError(f'{where}: {len(fields)} field(s) ({text_format.description}), '
                            + _expected_fields(columns, text_format, too_many))
  row: Dict[str, Any] = dict(zip(columns, fields))
  for column in text_format.non_empty:
    if not row[column].strip():
      raise DataContractError(f'{where}: empty {column!r}')
  for column in text_format.int_columns:
    try:
      row[column] = int(row[column].strip())
    except ValueError:
      raise DataContractError(f'{where}: {column!r} is {row[column]!r}, not an integer') from None
    allowed = text_format.allowed_values.get(column)
    if allowed and row[column] not in allowed:
      raise DataContractError(f'{where}: {column!r} is {row[column]}, expected one of {list(allowed)}')
  for column in text_format.float_columns:
    try:
      number_value = parse_number(row[column])
    except DataContractError as e:
      raise DataContractError(f'{where} column {column!r}: {e}') from None
    row[column] = None if math.isnan(number_value) else number_value
  return row


def parse_lines(lines: Iterable[bytes], name: str, text_format: TextFormat) -> Iterator[Tuple[int, Dict[str, Any]]]:
  """Yields (line number, {column: value}) for every record of one whole file, read as a stream of lines (bytes,
  each with its ending, as iterating a binary file gives them): memory is bounded by a record, not the file.

  Values are strings, ints for `int_columns`, floats (None when missing) for `float_columns`. With a header every
  header column is in the dict; without one, the fields are named by `columns` and extra fields (up to
  `max_fields`) are ignored. A file without data rows is an error. With a `time_column`, the time order is
  checked as the rows are read, and the gaps once the whole file is (see TextFormat). Raises DataContractError
  naming the file and line.
  """
  seen_text = False

  def noting_text(stream):
    nonlocal seen_text
    for raw in stream:
      seen_text = seen_text or bool(raw.strip())
      yield raw

  columns: Optional[List[str]] = None if text_format.header else list(text_format.columns)
  header_line = 0
  time_order = _TimeOrder(name, text_format) if text_format.time_column else None
  rows = 0
  for number, fields in _records(_text_lines(noting_text(lines), name, text_format, 1), name, text_format, 1):
    if columns is None:
      columns, header_line = [c.strip() for c in fields], number
      check_header(columns, f'{name} line {number}', name, text_format)
      continue
    row = _row(fields, columns, f'{name} line {number}', text_format)
    if time_order is not None:
      time_order.add(number, row)
    rows += 1
    yield number, row
  if not seen_text:
    raise DataContractError(f'{name} is empty: expected ' + ('a header row and ' if text_format.header else '')
                            + 'data rows')
  if columns is None:
    raise DataContractError(f'{name} is empty: expected a header row')
  if not rows:
    raise DataContractError(f'{name} has a header (line {header_line}) but no data rows' if text_format.header
                            else f'{name} has no data rows')
  if time_order is not None:
    time_order.check_gaps()


def read_header(lines: Iterable[bytes], name: str, text_format: TextFormat) -> Tuple[List[str], int]:
  """(columns, line number) of a file's header, checked as `parse_lines` checks it: the first record of a file with
  a header, or the format's columns (line 0) without one."""
  if not text_format.header:
    return list(text_format.columns), 0
  for number, fields in _records(_text_lines(lines, name, text_format, 1), name, text_format, 1):
    columns = [c.strip() for c in fields]
    check_header(columns, f'{name} line {number}', name, text_format)
    return columns, number
  raise DataContractError(f'{name} is empty: expected a header row')


def parse_part(lines: Iterable[bytes], name: str, text_format: TextFormat, columns: Sequence[str],
               first_line: int, header_line: int = 0) -> Iterator[Tuple[int, Dict[str, Any]]]:
  """`parse_lines` for a part of a file whose header (`columns`, on line `header_line`) was read already: the
  lines from line `first_line` on (ExampleGen's reading of a large file in parts). The whole-file rules (not
  empty, some data rows, the time order) are left to whoever reads the whole file; a part may hold no rows."""
  for number, fields in _records(_text_lines(lines, name, text_format, first_line), name, text_format, first_line):
    if number != header_line:
      yield number, _row(fields, list(columns), f'{name} line {number}', text_format)


def parse_rows(content: bytes, name: str, text_format: TextFormat) -> Iterator[Tuple[int, Dict[str, Any]]]:
  """`parse_lines` of a file's bytes."""
  return parse_lines(io.BytesIO(content), name, text_format)


@dataclasses.dataclass
class _SeriesOrder:
  """What the time-order check keeps of one series in one file: its last row and its spacings."""
  timestamp: int
  line: int
  direction: int = 0  # +1: oldest first, -1: newest first, 0: not known yet (one row so far)
  # spacing in seconds -> [count, (earlier line, later line, earlier timestamp) of its first occurrence]
  spacings: Dict[int, list] = dataclasses.field(default_factory=dict)


class _TimeOrder:
  """The per-file, per-series time-order check of `parse_rows` (see TextFormat). Memory: one entry per series
  and distinct spacing, not per row."""

  def __init__(self, name: str, text_format: TextFormat):
    self._name, self._format = name, text_format
    self._series: Dict[str, _SeriesOrder] = {}

  def _which(self, series: str) -> str:
    return f' (series {series!r})' if self._format.series_column else ''

  def add(self, line: int, row: Dict[str, Any]) -> None:
    column = self._format.time_column
    try:
      timestamp = parse_timestamp(row[column])
    except DataContractError as e:
      raise DataContractError(f'{self._name} line {line} column {column!r}: {e}') from None
    series = row[self._format.series_column] if self._format.series_column else ''
    last = self._series.get(series)
    if last is None:
      self._series[series] = _SeriesOrder(timestamp, line)
      return
    if timestamp == last.timestamp:
      raise DataContractError(
          f'{self._name} lines {last.line} and {line}: two rows at {format_timestamp(timestamp)} UTC'
          f'{self._which(series)} (local times with daylight saving repeat an hour: use UTC or an offset)')
    direction = 1 if timestamp > last.timestamp else -1
    if last.direction and direction != last.direction:
      raise DataContractError(
          f'{self._name} line {line}: {format_timestamp(timestamp)} is {"later" if direction > 0 else "earlier"} '
          f'than {format_timestamp(last.timestamp)} on line {last.line}{self._which(series)}, but the rows before '
          f'it are {"oldest" if last.direction > 0 else "newest"} first: rows must be in time order')
    spacing = abs(timestamp - last.timestamp)
    entry = last.spacings.get(spacing)
    if entry is None:
      last.spacings[spacing] = [1, (last.line, line, min(timestamp, last.timestamp))]
    else:
      entry[0] += 1
    last.timestamp, last.line, last.direction = timestamp, line, direction

  def check_gaps(self) -> None:
    """Raises for the first gap (in line order) that misses more than `max_gap_steps` steps."""
    limit = self._format.max_gap_steps
    if not limit:
      return
    for series, order in self._series.items():
      if not order.spacings:
        continue
      # The step as the windowing finds it: configured, or the most common spacing (ties: the smallest).
      step = self._format.step_seconds or min(order.spacings.items(), key=lambda kv: (-kv[1][0], kv[0]))[0]
      too_long = [(lines, spacing) for spacing, (_, lines) in order.spacings.items() if spacing // step - 1 > limit]
      if too_long:
        (first_line, second_line, after), spacing = min(too_long)
        raise DataContractError(
            f'{self._name} lines {first_line}-{second_line}: no rows between {format_timestamp(after)} and '
            f'{format_timestamp(after + spacing)}{self._which(series)}, {spacing // step - 1:,} missing steps of '
            f'{_duration(step)}: a gap longer than the {limit} steps allowed (--max-gap-steps, default: --window). '
            'Missing or misdated rows? If the gap is real, add its time steps with empty values, or raise '
            '--max-gap-steps')


def check_header(columns: List[str], where: str, name: str, text_format: TextFormat) -> None:
  if any(not c for c in columns):
    raise DataContractError(f'{where}: the header has an empty column name: {columns}')
  duplicates = sorted({c for c in columns if columns.count(c) > 1})
  if duplicates:
    raise DataContractError(f'{where}: column name(s) {", ".join(map(repr, duplicates))} appear twice')
  missing = [c for c in text_format.columns if c not in columns]
  if missing:
    raise DataContractError(f'{name}: column(s) {", ".join(map(repr, missing))} not found; the header has: '
                            f'{", ".join(columns)} ({text_format.description})')


# The pre-flight reads this many rows of each file (all of a smaller file): enough to check the header, the
# columns and the values' form, in the same time for a file of any size. The run's own steps check every row with
# the same messages (ExampleGen: the file rules and values; the windowing: the time order across files).
PREFLIGHT_ROWS = 100_000


def read_rows(path: str, text_format: TextFormat,
              max_rows: Optional[int] = None) -> Iterator[Tuple[int, Dict[str, Any]]]:
  """`parse_lines` on a file (local or a URI, core/storage.py), as a stream; with `max_rows`, its first rows only
  (the whole-file rules then apply to what was read)."""
  with storage.open_binary(path) as f:
    rows = parse_lines(f, os.path.basename(path), text_format)
    yield from (rows if max_rows is None else itertools.islice(rows, max_rows))


@dataclasses.dataclass(frozen=True, eq=False)
class RowCount:
  """Rows the pre-flight read, and whether some file had more than it read (shown as '100,000+'). Equal to an
  int when it is the whole count."""
  rows: int
  partial: bool = False

  def __eq__(self, other) -> bool:
    if isinstance(other, int):
      return not self.partial and self.rows == other
    return isinstance(other, RowCount) and (self.rows, self.partial) == (other.rows, other.partial)

  def __hash__(self) -> int:
    return hash((self.rows, self.partial))

  def __add__(self, other: 'RowCount') -> 'RowCount':
    return RowCount(self.rows + other.rows, self.partial or other.partial)

  def __radd__(self, other) -> 'RowCount':
    return self if other == 0 else NotImplemented  # sum() starts from 0

  def __format__(self, spec: str) -> str:
    return format(self.rows, spec) + ('+' if self.partial else '')


def check_files(paths: Sequence[str], text_format: TextFormat, max_rows: Optional[int] = None) -> RowCount:
  """Reads the first `max_rows` (PREFLIGHT_ROWS) rows of every file (`parse_lines` rejects a file without any);
  counts them."""
  max_rows = PREFLIGHT_ROWS if max_rows is None else max_rows
  rows, partial = 0, False
  for path in paths:
    read = sum(1 for _ in read_rows(path, text_format, max_rows + 1))
    partial = partial or read > max_rows
    rows += min(read, max_rows)
  return RowCount(rows, partial)


def _require_directory(data_root: str) -> None:
  if not storage.isdir(data_root):
    raise DataContractError(f'data directory {data_root} does not exist')


def _data_files(data_root: str) -> List[str]:
  _require_directory(data_root)
  return sorted(f for f in storage.listdir(data_root) if not f.startswith('.')
                and storage.isfile(storage.join(data_root, f)))


# ----------------------------------------------------------------------------------------------------
# Spans: `span-<N>/` folders of new data, period by period.

SPAN_FOLDER = re.compile(r'^span-(\d+)$')
SPAN_PATTERN_PREFIX = 'span-{SPAN}/'  # TFX's ExampleGen resolves {SPAN} to the newest span number
SCHEMA_FILE = 'schema.pbtxt'  # may sit beside the span folders; not data
# How many spans a run reads by default: a series keeps its whole history (windows cross span boundaries and
# the time split needs the past); a text task trains on the newest span, warm-started from the model before.
DEFAULT_SPANS_BACK = {'forecast': 0, 'sentiment': 1, 'translate': 1}


@dataclasses.dataclass(frozen=True)
class SpanSelection:
  """Which folders of a data directory a run reads: the last `spans_back` spans up to the newest (or the one
  pinned), or the directory itself when it has no span folders."""
  data_root: str
  spans: Tuple[int, ...]  # the spans read, oldest first; empty for a flat directory
  available: Tuple[int, ...]  # every span folder found

  @property
  def directories(self) -> List[str]:
    if not self.spans:
      return [self.data_root]
    return [storage.join(self.data_root, f'span-{n}') for n in self.spans]

  @property
  def newest(self) -> Optional[int]:
    return self.spans[-1] if self.spans else None

  def pattern(self, file_pattern: str) -> str:
    """An ExampleGen input pattern: under `span-{SPAN}/` for a span layout."""
    return SPAN_PATTERN_PREFIX + file_pattern if self.spans else file_pattern

  def describe(self) -> str:
    if not self.spans:
      return ''
    read = f'span {self.spans[0]}' if len(self.spans) == 1 else f'spans {self.spans[0]}-{self.spans[-1]}'
    return f'{read} of {len(self.available)} span folder(s)'


def span_folders(data_root: str) -> Dict[int, str]:
  """span number -> folder name of every `span-<N>` folder of `data_root`."""
  _require_directory(data_root)
  found: Dict[int, str] = {}
  for name in sorted(storage.listdir(data_root)):
    match = SPAN_FOLDER.match(name)
    if not match or not storage.isdir(storage.join(data_root, name)):
      continue
    if name != f'span-{int(match.group(1))}':  # ExampleGen writes the span number without padding into the pattern
      raise DataContractError(f'{storage.join(data_root, name)}: name span folders without leading zeros '
                              f'(span-{int(match.group(1))})')
    found[int(match.group(1))] = name
  return found


def select_spans(data_root: str, spans_back: int = 0, span: Optional[int] = None) -> SpanSelection:
  """The spans a run reads: the newest span (or `span`) and the ones before it, `spans_back` in all (0: every
  one). A directory without span folders is read as it is."""
  if spans_back < 0:
    raise DataContractError(f'--spans must be 0 (every span) or more, not {spans_back}')
  folders = span_folders(data_root)
  if not folders:
    if span is not None:
      raise DataContractError(f'--span {span}: {data_root} has no span-<N> folders')
    return SpanSelection(data_root, (), ())
  loose = [f for f in _data_files(data_root) if f != SCHEMA_FILE and not f.lower().startswith(_NOT_DATA)]
  if loose:
    raise DataContractError(f'{data_root} has span-<N> folders and data files beside them ({", ".join(loose[:3])}): '
                            'move the files into a span folder')
  available = tuple(sorted(folders))
  if span is not None and span not in folders:
    raise DataContractError(f'--span {span}: no folder span-{span} in {data_root} '
                            f'(spans: {", ".join(map(str, available))})')
  newest = available[-1] if span is None else span
  chosen = [n for n in available if n <= newest]
  return SpanSelection(data_root, tuple(chosen[-spans_back:] if spans_back else chosen), available)


def data_state(data_root: str) -> str:
  """What the newest data of `data_root` is, as a short string: the newest span (or the flat directory) and a
  fingerprint of its files' names, sizes and modification times. A scheduler retrains when it changes."""
  folders = span_folders(data_root)
  newest = max(folders) if folders else None
  directory = os.path.join(data_root, folders[newest]) if folders else data_root
  digest = hashlib.sha256()
  for base, dirs, files in os.walk(directory):
    dirs.sort()
    for name in sorted(files):
      if name.startswith('.') or (newest is None and name == SCHEMA_FILE):
        continue
      path = os.path.join(base, name)
      stat = os.stat(path)
      digest.update(f'{os.path.relpath(path, directory)}\0{stat.st_size}\0{stat.st_mtime_ns}\n'.encode())
    if newest is None:
      break  # a flat directory: its files only (span folders are handled above)
  return f'{"span " + str(newest) if folders else "files"} {digest.hexdigest()[:12]}'


# ----------------------------------------------------------------------------------------------------
# Forecast: a directory of CSV files, one row per time step.

@dataclasses.dataclass(frozen=True)
class ForecastData:
  numeric_features: List[str]  # the target first
  categorical_features: List[str]
  rows: RowCount
  files: List[str]
  text_format: TextFormat  # what ExampleGen reads the files with

  def describe(self, data_root: str, target: str) -> str:
    return (f'{self.rows:,} rows in {len(self.files)} file(s) of {data_root}; target {target!r}, '
            f'numeric {", ".join(self.numeric_features)}'
            + (f'; categorical {", ".join(self.categorical_features)}' if self.categorical_features else ''))


@dataclasses.dataclass
class _ColumnScan:
  numeric: int = 0
  first_text: Optional[str] = None  # "file line N column 'C': 'value'" of the first non-numeric value
  first_not_finite: Optional[str] = None  # the error naming the first nan/inf, should the column be numeric


def check_forecast_data(data_root: str, time_column: str, target: str, features: Optional[Sequence[str]] = None,
                        series_column: str = '', directories: Sequence[str] = (), max_gap_steps: int = 0,
                        step_seconds: int = 0) -> ForecastData:
  """Reads every `*.csv` of `data_root` (or of each of `directories`: the spans a run reads) once (CSV quoting,
  one header for all files); raises DataContractError naming file, line and column on bad input.

  Features default to every column but the time and series columns; a column whose values are all non-numeric
  is categorical, one with numbers and some non-numeric values is an error, and so is a nan or inf in a numeric
  column. Each file's rows must be in time order per series, without repeated timestamps or a gap of more than
  `max_gap_steps` steps (0: any gap) of `step_seconds` (0: the most common spacing); the returned text format
  makes ExampleGen check the same.
  """
  _require_directory(data_root)
  files = []
  for directory in directories or [data_root]:
    found = storage.glob(storage.join(directory, f'*{CSV_EXTENSION}'))
    if not found:
      raise DataContractError(f'no *{CSV_EXTENSION} files in {directory}')
    files += found
  wanted = [time_column, target] + list(features or []) + ([series_column] if series_column else [])
  time_order = dict(time_column=time_column, series_column=series_column, step_seconds=step_seconds,
                    max_gap_steps=max_gap_steps)
  scan_format = TextFormat(columns=tuple(dict.fromkeys(wanted)), delimiter=',', quoting=True,
                           non_empty=(time_column,), max_line_chars=MAX_LINE_CHARS, **time_order)
  header: Optional[List[str]] = None
  scans: Dict[str, _ColumnScan] = {}
  rows = RowCount(0)
  for path in files:
    name = os.path.basename(path)
    # parse_lines checks the time column and the time order (of the rows read; ExampleGen checks every row).
    for count, (line, row) in enumerate(read_rows(path, scan_format, PREFLIGHT_ROWS + 1), start=1):
      if count > PREFLIGHT_ROWS:
        rows += RowCount(0, partial=True)
        break
      if header is None:
        header = list(row)
        scans = {c: _ColumnScan() for c in header}
      elif list(row) != header:
        raise DataContractError(f'{path}: header {list(row)} differs from {files[0]}: {header}')
      rows += RowCount(1)
      for column, value in row.items():
        if column == time_column:
          continue
        scan = scans[column]
        try:
          number = parse_number(value)
        except NotFiniteError as e:
          if scan.first_not_finite is None:
            scan.first_not_finite = f'{name} line {line} column {column!r}: {e}'
          continue
        except DataContractError:
          if scan.first_text is None:
            scan.first_text = f'{name} line {line} column {column!r}: {value!r}'
          continue
        scan.numeric += not math.isnan(number)
  text_format = TextFormat(columns=(), delimiter=',', quoting=True, non_empty=(time_column,),
                           max_line_chars=MAX_LINE_CHARS, **time_order)
  return _resolve_forecast_columns(scans, header, time_column, target, features, series_column, rows, files,
                                   text_format)


def _resolve_forecast_columns(scans, header, time_column, target, features, series_column, rows, files,
                              text_format: TextFormat) -> ForecastData:
  """The feature columns and their types from the scan; `text_format`: ExampleGen's, completed here."""
  # A column with only numbers (and missing values) is numeric, so a nan or inf in it is an error; in a text
  # column the same word is just a category.
  for column in header:
    if scans[column].first_text is None and scans[column].first_not_finite:
      raise DataContractError(scans[column].first_not_finite)

  def numeric_or_fail(column: str) -> bool:
    scan = scans[column]
    if scan.first_text is None:
      return True
    if scan.numeric:  # numbers with some text: a data error, not a categorical column
      raise DataContractError(f'{scan.first_text} is not a number '
                              f'({scan.numeric} other values of the column are)')
    return False

  if not numeric_or_fail(target):
    raise DataContractError(f'target column {target!r} must be numeric; {scans[target].first_text} is not')
  if scans[target].numeric == 0:
    raise DataContractError(f'target column {target!r} has no values')
  chosen = list(features) if features else [c for c in header if c not in (time_column, series_column)]
  numeric = [target] + [c for c in chosen if c != target and numeric_or_fail(c)]
  categorical = [c for c in chosen if c != target and c not in numeric]
  # Every numeric column of the files is written as a float feature (statistics see numbers), the rest as text.
  numeric_columns = tuple(c for c in header if c not in (time_column, series_column) and scans[c].first_text is None)
  text_format = dataclasses.replace(
      text_format, columns=tuple(dict.fromkeys([time_column, *numeric, *categorical]
                                               + ([series_column] if series_column else []))),
      float_columns=numeric_columns)
  return ForecastData(numeric, categorical, rows, files, text_format)


# ----------------------------------------------------------------------------------------------------
# Sentiment: delimited files with a header, a text column and a 0/1 label column.

SENTIMENT_EXTENSIONS = ('.csv', '.tsv')
_NOT_DATA = ('readme', 'license')


@dataclasses.dataclass(frozen=True)
class SentimentData:
  input_splits: Tuple[Tuple[str, str], ...]  # ExampleGen (split name, file pattern)
  hash_splits: Tuple[Tuple[str, int], ...]  # non-empty: ExampleGen hash-splits the one input split
  text_format: TextFormat
  rows: RowCount
  layout: str  # how the files were read, for the console


def check_sentiment_data(data_root: str, text_column: str = 'text', label_column: str = 'label',
                         slice_columns: Sequence[str] = (), delimiter: Optional[str] = None) -> SentimentData:
  """Finds the layout of a sentiment directory and reads every file once.

  Layouts: `train*` and `dev*` (or `eval*`) files are the train/eval splits; otherwise every `*.csv` or every
  `*.tsv` file is pooled and hash-split 90/10. The delimiter follows the extension (`.csv`: comma with CSV
  quoting; else tab, no quoting) unless `delimiter` is given.
  """
  if delimiter is not None and not delimiter:
    raise DataContractError('--delimiter must not be empty')
  files = [f for f in _data_files(data_root) if not f.lower().startswith(_NOT_DATA)]
  train = [f for f in files if f.startswith('train')]
  held_out = [f for f in files if f.startswith(('dev', 'eval'))]
  if train and held_out:  # the data comes split: keep its split
    eval_prefix = 'dev' if held_out[0].startswith('dev') else 'eval'
    held_out = [f for f in held_out if f.startswith(eval_prefix)]
    used = train + held_out
    input_splits, hash_splits = (('train', 'train*'), ('eval', f'{eval_prefix}*')), ()
    layout = f'train {", ".join(train)}; eval {", ".join(held_out)}'
  else:  # one pool of files: hash-split 90/10
    # Case-sensitive, like the `*.csv` pattern ExampleGen is given.
    by_extension = {ext: [f for f in files if f.endswith(ext)] for ext in SENTIMENT_EXTENSIONS}
    found = [ext for ext, names in by_extension.items() if names]
    if not found:
      raise DataContractError(f'no train*/dev* files and no *.csv or *.tsv files in {data_root}')
    if len(found) > 1:
      raise DataContractError(f'{data_root} mixes *.csv and *.tsv files ({", ".join(files)}): keep one format, '
                              'or name the splits train*/dev*')
    used = by_extension[found[0]]
    if any(f.startswith('test') for f in used):
      raise DataContractError(f'{data_root} has test* files but no dev*/eval* file: name the held-out file dev*, '
                              'or move the test files out (they would be mixed into training)')
    input_splits, hash_splits = (('all', f'*{found[0]}'),), (('train', 9), ('eval', 1))
    layout = f'{len(used)} *{found[0]} file(s), hash split 90/10 into train/eval'
  if len({format_for(f, delimiter) for f in used}) > 1:
    raise DataContractError(f'{data_root}: {", ".join(used)} mix .csv and other files, which are read by different '
                            'rules; use one format')
  separator, quoting = format_for(used[0], delimiter)
  text_format = TextFormat(columns=(text_column, label_column, *slice_columns), delimiter=separator, quoting=quoting,
                           int_columns=(label_column,), allowed_values={label_column: (0, 1)},
                           # Slice columns too: the schema is learned from the training split, where a column
                           # that always has a value becomes required; an eval row without one would stop the run.
                           non_empty=(text_column, *slice_columns), max_line_chars=MAX_LINE_CHARS)
  rows = check_files([storage.join(data_root, f) for f in used], text_format)
  return SentimentData(input_splits, hash_splits, text_format, rows, f'{layout}; {text_format.description}')


def check_sentiment_spans(directories: Sequence[str], *args, **kwargs) -> SentimentData:
  """`check_sentiment_data` on every span a run reads; each span must have the same layout (the ExampleGen
  patterns are the same for all of them)."""
  checked = [check_sentiment_data(directory, *args, **kwargs) for directory in directories]
  first = checked[0]
  for directory, found in zip(directories[1:], checked[1:]):
    if (found.input_splits, found.hash_splits, found.text_format) != (first.input_splits, first.hash_splits,
                                                                       first.text_format):
      raise DataContractError(f'{directory} is laid out differently from {directories[0]} '
                              f'({found.layout} vs {first.layout}); every span needs the same files and format')
  return dataclasses.replace(first, rows=sum(found.rows for found in checked))


# ----------------------------------------------------------------------------------------------------
# Translate: tab-separated sentence pairs without a header.

SOURCE_COLUMN, TARGET_COLUMN = 'source', 'target'  # feature names of the first two fields of a line


def translate_format(max_line_chars: int = 1000) -> TextFormat:
  # A third field is ignored: Tatoeba's (Anki's) files carry the pair's attribution there.
  return TextFormat(columns=(SOURCE_COLUMN, TARGET_COLUMN), header=False, non_empty=(SOURCE_COLUMN, TARGET_COLUMN),
                    max_line_chars=max_line_chars, max_fields=3)


def check_file_pattern(pattern: str, flag: str = '--pattern') -> str:
  """A file pattern relative to the data directory, which it cannot leave: no absolute path, no `..` part (the
  pipeline reads `<data>/<pattern>`, and a pattern is not a way to read other directories)."""
  parts = re.split(r'[\\/]', pattern)
  if not pattern.strip() or os.path.isabs(pattern) or pattern.startswith(('/', '\\', '~')) or '..' in parts:
    raise DataContractError(f'{flag} {pattern!r} must be a file pattern inside --data (like *.txt or '
                            'pairs/*.txt): no absolute path, no ~ and no .. parts')
  return pattern


def check_translate_data(data_root: str, pattern: str = '*.txt', max_line_chars: int = 1000,
                         directories: Sequence[str] = ()) -> Tuple[RowCount, str]:
  """Reads every pair file matching `pattern` in `data_root` (or in each of `directories`: the spans a run
  reads) once; returns (pairs, a description of the files)."""
  check_file_pattern(pattern)
  _require_directory(data_root)
  files = []
  for directory in directories or [data_root]:
    found = [f for f in storage.glob(storage.join(directory, pattern)) if storage.isfile(f)]
    if not found:
      raise DataContractError(f'no files match {pattern!r} in {directory}')
    files += found
  pairs = check_files(files, translate_format(max_line_chars))
  names = ', '.join(os.path.basename(f) for f in files[:3]) + (f' and {len(files) - 3} more' if len(files) > 3 else '')
  return pairs, f'{pairs:,} sentence pairs in {names} ({data_root}); hash split 90/10 by source sentence'


def check_schema_file(path: str) -> str:
  """Reads a curated schema (TFDV's text format); returns its content. The error names the file and the
  parser's line and column."""
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  if not os.path.isfile(path):
    raise DataContractError(f'schema file {path} does not exist')
  with open(path, encoding='utf-8') as f:
    content = f.read()
  try:
    schema = text_format.Parse(content, schema_pb2.Schema())
  except text_format.ParseError as e:
    raise DataContractError(f'{path} is not a schema in text format: {e}') from None
  if not schema.feature:
    raise DataContractError(f'{path} describes no features')
  return content
