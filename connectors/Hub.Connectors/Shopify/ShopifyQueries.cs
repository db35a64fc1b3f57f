namespace Hub.Connectors.Shopify;

/// <summary>
/// The GraphQL documents the connector sends, and their requested cost. Shopify prices a query before running it:
/// an object costs 1, a scalar 0, a connection 2 + first × (cost of one node); above 1000 it refuses the query.
/// https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
/// </summary>
internal static class ShopifyQueries
{
    // Fields the source rules read (mappings/rules/sources/shopify). legacyResourceId makes ids equal to the
    // numeric ids webhooks carry, so a pulled order and a webhook's order are the same record.
    public const string OrderFields =
        "id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt displayFinancialStatus tags currencyCode " +
        "totalPriceSet { shopMoney { amount currencyCode } } totalRefundedSet { shopMoney { amount currencyCode } } " +
        "customer { id legacyResourceId firstName lastName } billingAddress { phone firstName lastName city province countryCodeV2 zip }";

    /// <summary>Objects in <see cref="OrderFields"/>: order, totalPriceSet, shopMoney, totalRefundedSet, shopMoney, customer, billingAddress.</summary>
    public const int OrderObjectCost = 7;

    public const string LineFields = "sku title quantity originalUnitPriceSet { shopMoney { amount } }";

    /// <summary>Objects in one line: the line, originalUnitPriceSet, shopMoney.</summary>
    public const int LineObjectCost = 3;

    public const string CustomerFields =
        "id legacyResourceId firstName lastName state tags createdAt updatedAt defaultEmailAddress { emailAddress } " +
        "defaultPhoneNumber { phoneNumber } defaultAddress { address1 city province countryCodeV2 zip phone } " +
        "emailMarketingConsent { marketingState } smsMarketingConsent { marketingState }";

    /// <summary>Objects in <see cref="CustomerFields"/>: customer plus five nested objects.</summary>
    public const int CustomerObjectCost = 6;

    public static readonly string Orders =
        "query HubOrders($first: Int!, $after: String, $query: String!, $lines: Int!) { " +
        "orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) { pageInfo { hasNextPage endCursor } " +
        $"nodes {{ {OrderFields} lineItems(first: $lines) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LineFields} }} }} }} }} }}";

    public static readonly string Customers =
        "query HubCustomers($first: Int!, $after: String, $query: String!) { " +
        "customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) { pageInfo { hasNextPage endCursor } " +
        $"nodes {{ {CustomerFields} }} }} }}";

    public const int MoreLinesPerCall = 100;

    public static readonly string OrderLines =
        "query HubOrderLines($id: ID!, $after: String) { node(id: $id) { ... on Order { " +
        $"lineItems(first: {MoreLinesPerCall}, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LineFields} }} }} }} }} }}";

    public const string Shop = "query HubShop { shop { name myshopifyDomain } }";

    public const string RunBulk =
        "mutation HubBulk($query: String!) { bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } } }";

    public const string BulkStatus =
        "query HubBulkStatus($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode objectCount url partialDataUrl } } }";

    /// <summary>Requested cost of one page: the connection (2 + first × node) plus pageInfo.</summary>
    public static int OrdersCost(int first, int lines) => 2 + 1 + (first * (OrderObjectCost + 2 + 1 + (lines * LineObjectCost)));

    public static int CustomersCost(int first) => 2 + 1 + (first * CustomerObjectCost);

    public static int OrderLinesCost => 1 + 2 + 1 + (MoreLinesPerCall * LineObjectCost);

    /// <summary>Largest page (≤ 250, Shopify's cap) whose requested cost stays within the query cap.</summary>
    public static int PageSize(Func<int, int> cost, int maxCost)
    {
        var first = 250;
        while (first > 1 && cost(first) > maxCost)
        {
            first--;
        }

        return first;
    }

    /// <summary>The bulk export document for a stream; nested connections become child lines with <c>__parentId</c>.</summary>
    public static string BulkDocument(string stream, string search) => stream switch
    {
        "orders" => $"{{ orders(query: \"{search}\") {{ edges {{ node {{ {OrderFields} lineItems {{ edges {{ node {{ {LineFields} }} }} }} }} }} }} }}",
        "customers" => $"{{ customers(query: \"{search}\") {{ edges {{ node {{ {CustomerFields} }} }} }} }}",
        _ => throw new ArgumentOutOfRangeException(nameof(stream), stream, "not a Shopify stream"),
    };
}
