using System.Text;

namespace Hub.Connectors.Http;

/// <summary>
/// Reads newline-delimited JSON from a stream and reports each line's size in bytes, so a reader can resume at an
/// exact byte offset with an HTTP range request. Lines are UTF-8; a trailing line without a newline still counts.
/// </summary>
public sealed class JsonlReader(Stream stream, long skipBytes)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private bool _eof;
    private long _toSkip = skipBytes;

    /// <summary>Discards the bytes before the wanted offset when the server ignored the range request.</summary>
    public async Task SkipAsync(CancellationToken ct)
    {
        while (_toSkip > 0 && await FillAsync(ct).ConfigureAwait(false))
        {
            var n = (int)Math.Min(_toSkip, _end - _start);
            _start += n;
            _toSkip -= n;
        }
    }

    /// <summary>The next non-empty line and the bytes it occupied (newline included); null at the end.</summary>
    public async Task<JsonlLine?> ReadLineAsync(CancellationToken ct)
    {
        using var line = new MemoryStream();
        long consumed = 0;
        while (true)
        {
            if (_start == _end && !await FillAsync(ct).ConfigureAwait(false))
            {
                return line.Length == 0 ? null : new JsonlLine(Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length), consumed);
            }

            var span = _buffer.AsSpan(_start, _end - _start);
            var nl = span.IndexOf((byte)'\n');
            if (nl < 0)
            {
                line.Write(span);
                consumed += span.Length;
                _start = _end;
                continue;
            }

            line.Write(span[..nl]);
            consumed += nl + 1;
            _start += nl + 1;
            var length = (int)line.Length;
            if (length > 0 && line.GetBuffer()[length - 1] == (byte)'\r')
            {
                length--;
            }

            if (length == 0)
            {
                line.SetLength(0);
                continue; // blank line: its bytes count towards the next line's offset
            }

            return new JsonlLine(Encoding.UTF8.GetString(line.GetBuffer(), 0, length), consumed);
        }
    }

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        if (_start < _end)
        {
            return true;
        }

        if (_eof)
        {
            return false;
        }

        _start = 0;
        _end = await stream.ReadAsync(_buffer, ct).ConfigureAwait(false);
        _eof = _end == 0;
        return !_eof;
    }
}

/// <param name="Text">The line without its newline.</param>
/// <param name="Bytes">Bytes the line occupied in the stream, newline (and any blank lines before it) included.</param>
public sealed record JsonlLine(string Text, long Bytes);
