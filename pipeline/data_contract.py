"""Checks a forecast data directory before any pipeline work starts, and resolves default feature lists.

The pipeline's components check their inputs too, but by then CsvExampleGen has turned rows into examples
and the file and row numbers are gone. Checking here gives messages that name file, row and column, and a
run that fails here has written nothing.
"""
import csv
import dataclasses
import glob
import math
import os
from typing import Dict, List, Optional, Sequence

from components.windowing import DataContractError
from components.windowing import parse_number
from components.windowing import parse_timestamp


@dataclasses.dataclass
class _ColumnScan:
  numeric: int = 0
  missing: int = 0
  first_text: Optional[str] = None  # 'file:row: value' of the first non-numeric value


@dataclasses.dataclass(frozen=True)
class ForecastColumns:
  numeric_features: List[str]  # the target first
  categorical_features: List[str]
  rows: int
  files: List[str]


def csv_files(data_root: str, pattern: str = '*.csv') -> List[str]:
  if not os.path.isdir(data_root):
    raise DataContractError(f'data directory {data_root} does not exist')
  files = sorted(glob.glob(os.path.join(data_root, pattern)))
  if not files:
    raise DataContractError(f'no {pattern} files in {data_root}')
  return files


def check_forecast_data(data_root: str, time_column: str, target: str, features: Optional[Sequence[str]] = None,
                        series_column: str = '') -> ForecastColumns:
  """Reads every CSV of `data_root` once; raises DataContractError naming file/row/column on bad input.

  Features default to every column but the time and series columns; a column whose values are all
  non-numeric is categorical, one with numbers and some non-numeric values is an error.
  """
  files = csv_files(data_root)
  header: Optional[List[str]] = None
  scans: Dict[str, _ColumnScan] = {}
  rows = 0
  for path in files:
    name = os.path.basename(path)
    try:
      file_rows, header = _check_file(path, name, files, time_column, target, features, series_column, header,
                                      scans)
    except UnicodeDecodeError as e:
      raise DataContractError(f'{path}: not valid UTF-8 (byte 0x{e.object[e.start]:02x} at byte {e.start})') from None
    except csv.Error as e:
      raise DataContractError(f'{path}: unreadable CSV ({e})') from None
    rows += file_rows
  return _resolve_columns(scans, header, time_column, target, features, series_column, rows, files)


def _check_file(path, name, files, time_column, target, features, series_column, header, scans):
  """Checks one file against the header of the first (None: this is the first); fills `scans`.

  Returns (row count, header).
  """
  with open(path, newline='', encoding='utf-8') as f:
    first_line = f.readline()
    # CsvExampleGen takes the header as the first line split on commas, as is: no quotes, no padding.
    if first_line.startswith('\ufeff'):
      raise DataContractError(f'{path} starts with a byte-order mark (as Excel writes "CSV UTF-8"); '
                              'save it as plain UTF-8')
    raw_names = first_line.rstrip('\r\n').split(',')
    if not first_line.strip():
      raise DataContractError(f'{path} is empty: expected a header row and data rows')
    odd = [n for n in raw_names if n != n.strip() or n.startswith('"') or not n]
    if odd:
      raise DataContractError(f'{path}: header names must be bare, unquoted and non-empty; '
                              f'got {", ".join(map(repr, odd))}')
    reader = csv.reader(f)
    file_header = raw_names
    if header is None:
      header = file_header
      wanted = [time_column, target] + list(features or []) + ([series_column] if series_column else [])
      missing = [c for c in wanted if c not in header]
      if missing:
        raise DataContractError(
            f'{path}: column(s) {", ".join(map(repr, missing))} not found; the header has: {", ".join(header)}')
      scans.update({c: _ColumnScan() for c in header})
    elif file_header != header:
      raise DataContractError(f'{path}: header {file_header} differs from {files[0]}: {header}')
    file_rows = 0
    for line_number, values in enumerate(reader, start=2):
      if not values:
        continue
      if len(values) != len(header):
        raise DataContractError(
            f'{name} row {line_number}: {len(values)} fields, the header has {len(header)}')
      file_rows += 1
      for column, value in zip(header, values):
        if column == time_column:
          try:
            parse_timestamp(value)
          except DataContractError as e:
            raise DataContractError(f'{name} row {line_number} column {time_column!r}: {e}') from None
          continue
        scan = scans[column]
        try:
          number = parse_number(value.encode('utf-8'))
        except DataContractError:
          if scan.first_text is None:
            scan.first_text = f'{name} row {line_number}: {value!r}'
          continue
        if math.isnan(number):
          scan.missing += 1
        else:
          scan.numeric += 1
    if not file_rows:
      raise DataContractError(f'{path} has a header but no data rows')
    return file_rows, header


def _resolve_columns(scans, header, time_column, target, features, series_column, rows, files) -> 'ForecastColumns':
  """Numeric and categorical feature lists from the column scans."""

  def numeric_or_fail(column: str) -> bool:
    scan = scans[column]
    if scan.first_text is None:
      return True
    if scan.numeric:  # numbers with some text: a data error, not a categorical column
      raise DataContractError(f'{scan.first_text} in column {column!r} is not a number '
                              f'({scan.numeric} other values of the column are)')
    return False

  if not numeric_or_fail(target):
    raise DataContractError(f'target column {target!r} must be numeric; {scans[target].first_text} is not')
  if scans[target].numeric == 0:
    raise DataContractError(f'target column {target!r} has no values')
  chosen = list(features) if features else [c for c in header if c not in (time_column, series_column)]
  numeric = [target] + [c for c in chosen if c != target and numeric_or_fail(c)]
  categorical = [c for c in chosen if c != target and c not in numeric]
  return ForecastColumns(numeric, categorical, rows, files)
