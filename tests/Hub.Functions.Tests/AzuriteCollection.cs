using Hub.Testing;
using Xunit;

namespace Hub.Functions.Tests;

[CollectionDefinition(AzuriteFixture.Collection)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;
