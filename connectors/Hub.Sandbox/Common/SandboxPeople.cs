using Bogus;

namespace Hub.Sandbox.Common;

/// <summary>A real-world customer the sandboxes share, so two stores can hold the same person (for de-duplication trials).</summary>
public sealed record SandboxPerson(int Index, string FirstName, string LastName, string Email, string Phone, string Address1, string City, string Province, string Zip, string Country);

/// <summary>Deterministic people from a seed: the same seed gives the same people in every sandbox and run.</summary>
public static class SandboxPeople
{
    public static IReadOnlyList<SandboxPerson> Generate(int count, int seed = 7)
    {
        var faker = new Faker("en") { Random = new Randomizer(seed) };
        var people = new List<SandboxPerson>(count);
        for (var i = 0; i < count; i++)
        {
            var first = faker.Name.FirstName();
            var last = faker.Name.LastName();
            // Unique by construction, in the reserved .example TLD (RFC 2606). Not example.com: the identity rules block
            // that domain as a test address, so sandbox shoppers would never join on their email.
            // 555-01xx style numbers are reserved for fiction in North America.
            var email = $"{first}.{last}.{i}@shoppers.example".ToLowerInvariant().Replace("'", "", StringComparison.Ordinal);
            var phone = $"+1415555{i % 10000:0000}";
            people.Add(new SandboxPerson(i, first, last, email, phone, faker.Address.StreetAddress(), faker.Address.City(), faker.Address.StateAbbr(), faker.Address.ZipCode("#####"), "US"));
        }

        return people;
    }
}
