using Hub.Testing;
using Xunit;

namespace Hub.LocalHost.Tests;

[CollectionDefinition(AzuriteFixture.Collection)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;
