using System.Globalization;
using Bogus;
using Hub.Sandbox.Common;
using Newtonsoft.Json.Linq;

namespace Hub.Sandbox.Shopify;

public sealed class ShopifyCustomer
{
    public long Id { get; init; }
    public string? FirstName { get; set; }
    public string? LastName { get; set; }
    public string? Email { get; set; }
    public string? Phone { get; set; }
    public string State { get; set; } = "enabled";
    public List<string> Tags { get; set; } = [];
    public string? Address1 { get; set; }
    public string? City { get; set; }
    public string? Province { get; set; }
    public string? Zip { get; set; }
    public string Country { get; set; } = "US";
    public string EmailMarketing { get; set; } = "NOT_SUBSCRIBED";
    public string SmsMarketing { get; set; } = "NOT_SUBSCRIBED";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class ShopifyLine
{
    public string? Sku { get; init; }
    public string Title { get; init; } = "";
    public int Quantity { get; init; } = 1;
    public decimal Price { get; init; }
}

public sealed class ShopifyOrder
{
    public long Id { get; init; }
    public string Name { get; init; } = "";
    public string? Email { get; set; }
    public string? Phone { get; set; }
    public long? CustomerId { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ProcessedAt { get; set; }
    public DateTimeOffset? CancelledAt { get; set; }
    public string FinancialStatus { get; set; } = "paid";
    public string Currency { get; init; } = "USD";
    public List<string> Tags { get; set; } = [];
    public decimal Refunded { get; set; }
    public List<ShopifyLine> Lines { get; init; } = [];

    public decimal Total => Lines.Sum(l => l.Price * l.Quantity);
}

/// <summary>One shop's state in the Shopify sandbox: records, tokens, cost bucket, bulk operations and switches.</summary>
public sealed class ShopifyShop
{
    private long _nextId = 1000;

    internal ShopifyShop(string domain, TimeProvider clock)
    {
        Domain = domain;
        Clock = clock;
        BucketAt = clock.GetUtcNow();
        Available = BucketMaximum;
    }

    internal object Gate { get; } = new();
    internal TimeProvider Clock { get; }

    public string Domain { get; }

    /// <summary>A non-expiring admin token (a custom app's token); OAuth installs get their own tokens.</summary>
    public string AccessToken { get; } = "shpat_" + Guid.NewGuid().ToString("N");

    public List<ShopifyCustomer> Customers { get; } = [];
    public List<ShopifyOrder> Orders { get; } = [];

    /// <summary>Scopes the app holds; without <c>read_all_orders</c> orders created over 60 days ago are invisible.</summary>
    public HashSet<string> Scopes { get; } = new(StringComparer.Ordinal) { "read_orders", "read_customers", "read_all_orders" };

    /// <summary>False: the app is not approved for protected customer data, so name/email/phone/address are null.</summary>
    public bool ProtectedDataApproved { get; set; } = true;

    public double BucketMaximum { get; set; } = 1000;
    public double RestoreRate { get; set; } = 100;
    internal double Available { get; set; }
    internal DateTimeOffset BucketAt { get; set; }

    /// <summary>REST leaky bucket: requests it holds, and how many leak out per second (Standard: 40 and 2).</summary>
    public int RestBucketSize { get; set; } = 40;
    public double RestLeakRate { get; set; } = 2;
    internal double RestLevel { get; set; }
    internal DateTimeOffset RestAt { get; set; }

    /// <summary>HTTP status of a THROTTLED answer: Shopify mostly sends 200, some clients report 429.</summary>
    public int ThrottledStatus { get; set; } = 200;

    /// <summary>How long a bulk operation runs before it completes.</summary>
    public TimeSpan BulkDuration { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Bulk queries allowed at once (one before API 2026-01, up to five since).</summary>
    public int BulkConcurrency { get; set; } = 1;

    /// <summary>The next bulk operations end FAILED with this error code.</summary>
    public Queue<string> FailNextBulk { get; } = new();

    internal List<BulkOperation> BulkOperations { get; } = [];

    /// <summary>Empties the cost bucket, as a busy app on the same shop would.</summary>
    public void DrainBucket()
    {
        lock (Gate)
        {
            Available = 0;
            BucketAt = Clock.GetUtcNow();
        }
    }

    public long NextId() => Interlocked.Increment(ref _nextId);

    public ShopifyCustomer AddCustomer(SandboxPerson person, DateTimeOffset? createdAt = null)
    {
        var at = Seconds(createdAt ?? Clock.GetUtcNow());
        var c = new ShopifyCustomer
        {
            Id = NextId(),
            FirstName = person.FirstName,
            LastName = person.LastName,
            Email = person.Email,
            Phone = person.Phone,
            Address1 = person.Address1,
            City = person.City,
            Province = person.Province,
            Zip = person.Zip,
            Country = person.Country,
            EmailMarketing = person.Index % 3 == 0 ? "SUBSCRIBED" : "NOT_SUBSCRIBED",
            CreatedAt = at,
            UpdatedAt = at,
        };
        lock (Gate)
        {
            Customers.Add(c);
        }

        return c;
    }

    public ShopifyOrder AddOrder(ShopifyCustomer? customer, DateTimeOffset createdAt, IEnumerable<ShopifyLine> lines, string? email = null, string? phone = null)
    {
        var id = NextId();
        var o = new ShopifyOrder
        {
            Id = id,
            Name = "#" + (id - 1000 + 1000).ToString(CultureInfo.InvariantCulture),
            Email = email ?? customer?.Email,
            Phone = phone ?? customer?.Phone,
            CustomerId = customer?.Id,
            CreatedAt = Seconds(createdAt),
            UpdatedAt = Seconds(createdAt),
            ProcessedAt = Seconds(createdAt),
            Lines = [.. lines],
        };
        lock (Gate)
        {
            Orders.Add(o);
        }

        return o;
    }

    /// <summary>Changes an order and moves its updated_at to now, as an edit in the admin does.</summary>
    public ShopifyOrder UpdateOrder(long id, Action<ShopifyOrder> change)
    {
        lock (Gate)
        {
            var o = Orders.Single(x => x.Id == id);
            change(o);
            o.UpdatedAt = Max(Seconds(Clock.GetUtcNow()), o.UpdatedAt.AddSeconds(1));
            return o;
        }
    }

    public ShopifyCustomer UpdateCustomer(long id, Action<ShopifyCustomer> change)
    {
        lock (Gate)
        {
            var c = Customers.Single(x => x.Id == id);
            change(c);
            c.UpdatedAt = Max(Seconds(Clock.GetUtcNow()), c.UpdatedAt.AddSeconds(1));
            return c;
        }
    }

    /// <summary>
    /// Fills the shop with <paramref name="customers"/> of <paramref name="people"/> and <paramref name="orders"/>
    /// orders spread over the last <paramref name="days"/> days (some guests, some with many lines), deterministically.
    /// </summary>
    public void Seed(IReadOnlyList<SandboxPerson> people, int customers, int orders, int days = 90, int seed = 11)
    {
        var faker = new Faker("en") { Random = new Randomizer(seed) };
        var now = Clock.GetUtcNow();
        var made = people.Take(customers).Select(p => AddCustomer(p, now.AddDays(-days - 30).AddMinutes(p.Index))).ToList();
        for (var i = 0; i < orders; i++)
        {
            var created = now.AddSeconds(-faker.Random.Double(60, days * 86400.0));
            var guest = made.Count == 0 || faker.Random.Double() < 0.1;
            var customer = guest ? null : made[faker.Random.Int(0, made.Count - 1)];
            var lineCount = faker.Random.Double() < 0.02 ? faker.Random.Int(11, 30) : faker.Random.Int(1, 4);
            var lines = Enumerable.Range(0, lineCount).Select(_ => new ShopifyLine
            {
                Sku = "SKU-" + faker.Random.Int(100, 999).ToString(CultureInfo.InvariantCulture),
                Title = faker.Commerce.ProductName(),
                Quantity = faker.Random.Int(1, 3),
                Price = Math.Round(faker.Random.Decimal(5, 200), 2),
            });
            var guestPerson = guest ? people[faker.Random.Int(0, people.Count - 1)] : null;
            var o = AddOrder(customer, created, lines, guestPerson?.Email, guestPerson?.Phone);
            o.UpdatedAt = Seconds(created.AddMinutes(faker.Random.Int(0, 600)) is var u && u < now ? u : now);
            if (faker.Random.Double() < 0.05)
            {
                o.FinancialStatus = "refunded";
                o.Refunded = o.Total;
            }

            // Placing an order changes the customer (orders count, amount spent), so Shopify moves its updated_at.
            if (customer is not null && o.CreatedAt > customer.UpdatedAt)
            {
                customer.UpdatedAt = o.CreatedAt;
            }
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>Shopify keeps timestamps to the second.</summary>
    internal static DateTimeOffset Seconds(DateTimeOffset at) => new(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
}

internal sealed class BulkOperation
{
    public required string Id { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset CompletesAt { get; init; }
    public required byte[] Result { get; init; }
    public required int ObjectCount { get; init; }
    public string? FailWith { get; init; }

    public string Status(DateTimeOffset now) => now < CreatedAt.AddMilliseconds(50) ? "CREATED" : now < CompletesAt ? "RUNNING" : FailWith is null ? "COMPLETED" : "FAILED";
}
