using System.Security.Cryptography;
using System.Text;

namespace Hub.Connectors.Tmall;

/// <summary>
/// TOP request signing: every parameter except <c>sign</c> with a non-empty key and value, sorted by key (ordinal),
/// concatenated as <c>k1v1k2v2…</c> (no separators); then <c>md5</c> = MD5(secret + s + secret),
/// <c>hmac</c> = HMAC-MD5(secret, s), <c>hmac-sha256</c> = HMAC-SHA256(secret, s), each upper-case hex.
/// The session is signed like any other parameter. https://open.taobao.com/doc.htm?docId=101617&amp;docType=1
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "TOP defines md5 and hmac (HMAC-MD5) sign methods; the Hub defaults to hmac-sha256.")]
public static class TopSigner
{
    public static string Sign(IReadOnlyDictionary<string, string> parameters, string secret, string method)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var text = new StringBuilder();
        foreach (var (key, value) in parameters.Where(p => p.Key != "sign" && !string.IsNullOrEmpty(p.Key) && !string.IsNullOrEmpty(p.Value)).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Append(key).Append(value);
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var key2 = Encoding.UTF8.GetBytes(secret);
        var hash = method switch
        {
            "md5" => MD5.HashData([.. key2, .. bytes, .. key2]),
            "hmac" => HMACMD5.HashData(key2, bytes),
            "hmac-sha256" => HMACSHA256.HashData(key2, bytes),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, "TOP sign methods are md5, hmac and hmac-sha256."),
        };
        return Convert.ToHexString(hash);
    }
}
